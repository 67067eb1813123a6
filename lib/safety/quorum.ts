/**
 * etcd quorum math from the control-plane count (1, 3, 5, ... or even counts; never assumed to be 3).
 * A cluster of n voting members needs floor(n/2)+1 of them up to accept writes.
 */

export function quorumSize(members: number): number {
  if (!Number.isInteger(members) || members < 0) throw new Error(`member count must be a whole number, not ${members}`);
  return members === 0 ? 0 : Math.floor(members / 2) + 1;
}

/** How many members can be down at once without losing quorum. */
export function faultTolerance(members: number): number {
  return Math.max(0, members - quorumSize(members));
}

export interface QuorumDecision {
  ok: boolean;
  /** taking this node down makes the API unavailable, but loses no data (a single control plane) */
  outage?: boolean;
  reason: string;
}

/**
 * Can one control plane go down for a while (reboot, upgrade) and come back, given `members` voting members of which
 * `healthy` are healthy now? Membership stays the same size, so quorum is that of `members`.
 */
export function canTakeDownTemporarily(members: number, healthy: number): QuorumDecision {
  const q = quorumSize(members);
  if (members === 1)
    return {
      ok: true,
      outage: true,
      reason: "single control plane: etcd and the Kubernetes API are unavailable until it is back (no data is lost)",
    };
  if (healthy - 1 >= q)
    return { ok: true, reason: `${healthy - 1} of ${members} etcd members stay up, quorum is ${q}` };
  return {
    ok: false,
    reason:
      healthy < members
        ? `only ${healthy} of ${members} etcd members are healthy: taking one more down leaves ${healthy - 1}, quorum is ${q}`
        : `${members} etcd members tolerate ${faultTolerance(members)} down: taking one down leaves ${healthy - 1}, quorum is ${q}`,
  };
}

/**
 * Can `removing` control planes leave etcd for good (graceful reset shrinks membership)? What remains must be at least
 * one member, and the healthy ones left must form a quorum of the new, smaller membership, and the leave itself is a
 * write that needs quorum of the current membership.
 */
export function canRemoveMembers(members: number, healthy: number, removing: number, removingHealthy = removing): QuorumDecision {
  const remaining = members - removing;
  if (remaining < 1)
    return { ok: false, reason: `removing ${removing} of ${members} control planes leaves no etcd member (that is a full cluster reset)` };
  const q = quorumSize(members);
  if (healthy < q)
    return { ok: false, reason: `etcd has lost quorum (${healthy} of ${members} healthy, ${q} needed): members cannot leave cleanly` };
  const remainingHealthy = healthy - removingHealthy;
  const q2 = quorumSize(remaining);
  if (remainingHealthy < q2)
    return {
      ok: false,
      reason: `after removing ${removing}, ${remainingHealthy} of ${remaining} remaining etcd members are healthy, quorum of ${remaining} is ${q2}`,
    };
  return {
    ok: true,
    reason: `${remaining} member${remaining === 1 ? "" : "s"} remain (quorum ${q2}, tolerating ${faultTolerance(remaining)} down)`,
  };
}
