/**
 * The runtime entry of lib/repo for scripts: loadRepo and its helpers without constructing the zod schemas
 * (importing zod costs more than loading the whole repo). The types are the zod-inferred ones of model.ts;
 * import ClusterModelSchema & co. from ./model.ts when you need to validate a model.
 */
export { loadRepo, lineOf, sourceOf, RepoError } from "./load.ts";
export type * from "./model.ts";
export {
  matchesSelector,
  ciliumServiceLabels,
  poolFamilies,
  serviceFamilies,
  poolsForService,
  poolContaining,
  isLoadBalancerService,
  advertisementsForFamily,
  advertisesService,
} from "./select.ts";
export { schematicId, schematicYaml } from "./schematic.ts";
