/**
 * The small-matrix routines now live in src/util/linalg.ts (env and agents both use them, and env
 * must not import agents). This file only keeps the old names for src/serve/linucb.ts until that
 * module imports from util; delete it then.
 */
export {
  choleskySmall as cholesky,
  choleskySolve as cholSolve,
  matVecSmall as matVec,
  quadForm,
  scaledIdentity,
  shermanMorrison,
} from '../util/linalg.js';
