/**
 * Simulator configuration. Every number the simulated user obeys is here, with its default for
 * preset `sim-ml-ls-v1`; docs/simulator.md explains each one. `noClickUtility` is set by
 * calibration when the preset is built (see calibrate.ts).
 */
export interface SimConfig {
  preset: string;
  version: number;
  slateSize: number;
  /** Longest session (steps). */
  horizon: number;
  /** How many of the user's most recent *train* items open the session's history. */
  initialHistory: number;
  choice: {
    /** Utility of not clicking (calibrated). */
    noClickUtility: number;
    /** Weight of the hidden predicted rating (centred on the global mean). */
    ratingWeight: number;
    /** Weight of the user's genre affinity (over-/under-consumption of the genre in the data). */
    genreWeight: number;
    /** Weight of satiation with the item's genres. */
    satiationWeight: number;
    /** Weight of the item's content attractiveness a_i − 0.5. */
    attractWeight: number;
    /** Position bias: utility −positionDecay·ln(1 + position). */
    positionDecay: number;
  };
  satiation: {
    /** Added to each genre of a clicked item (split over its genres). */
    gain: number;
    /** Per-step multiplicative recovery. */
    decay: number;
    /** Rating lost per unit of satiation with the clicked item's genres. */
    ratingPenalty: number;
    /** Satiation a session starts with per genre occurrence in the initial history. */
    fromHistory: number;
  };
  drift: {
    /** Ornstein–Uhlenbeck persistence of the preference offset. */
    rho: number;
    /** Per-step noise of the offset, per factor. */
    sigma: number;
    /** Pull of the offset toward a clicked item's factors. */
    pull: number;
  };
  patience: {
    initial: number;
    jitter: number;
    /** Patience lost on a step without a click. */
    noClickCost: number;
    /** Patience gained per rating point above 3 (lost below). */
    ratingGain: number;
    /** Patience lost on every step. */
    stepCost: number;
    /** Exogenous chance of leaving on any step. */
    leaveProb: number;
  };
  rating: { noise: number };
  purchase: { bias: number; slope: number };
  reward: {
    click: number;
    purchase: number;
    /** Weight of (rating − 3) / 2 per clicked item. */
    rating: number;
    /** λ: weight of the exposure part G. */
    lambda: number;
    /** α: weight of the content-attractiveness part A. */
    alpha: number;
  };
  /** Items with fewer ratings than this in the full data are cold. */
  coldThreshold: number;
  /**
   * How an item's exposure value g_i behaves (docs/simulator.md, "Reward"):
   *  - `static` (v1): g_i = b_i, the same however often the item has been shown;
   *  - `fair-share` (v2): g_i(t) = b_i / (1 + e_i(t) / ē(t)), where e_i is how often this env has
   *    shown item i so far and ē the mean over the catalogue (at least 1). Showing an item more
   *    than its fair share makes it worth less, so G pays for rotating exposure, not only for
   *    showing cold items. b_i = 1 for a cold item, else 0.5·(1 − popularity percentile).
   */
  exposureValue: 'static' | 'fair-share';
  calibration: {
    /** CTR the popularity slate must reach at the first step (sets noClickUtility). */
    targetFirstStepCtr: number;
  };
  /** Discount used for the reported return. */
  gamma: number;
  /**
   * Present only in the interest-evolution family (`sim-interest-v1`, src/env/interest-env.ts):
   * its parameters. Such a preset reads `slateSize`, `horizon`, `initialHistory`, `reward` (λ, α),
   * `coldThreshold`, `exposureValue`, `calibration` and `gamma` from above; the sections of the
   * rating-model family (`choice`, `satiation`, `drift`, `patience`, `rating`, `purchase`) are
   * carried for type compatibility and not read.
   */
  interest?: InterestParams;
}

/** Parameters of the interest-evolution family (docs/simulator.md, "Interest-evolution family"). */
export interface InterestParams {
  topics: {
    /** 'genres' uses the items' categories; 'nmf' factorises the user–item incidence matrix; 'auto' picks genres when most items have one. */
    source: 'auto' | 'genres' | 'nmf';
    /** Topic count T for 'nmf' (with genres, T is the number of genres). */
    count: number;
    /** Multiplicative-update iterations of the NMF. */
    iterations: number;
  };
  interest: {
    /** x_ut(0) = tanh(scale · ln((n_ut + 1) / (E_ut + 1))) from the user's train interactions. */
    scale: number;
    /** Per-session N(0, noise²) added to every initial interest (then clipped to [−1, 1]). */
    noise: number;
    /** RecSim's y-intercept of the step size: α(x) = step · (1 − |x|). */
    step: number;
    /** How much quality tilts the direction of the move: P(up) = θ_i·(x + 1)/2 + qualityTilt · q_i. */
    qualityTilt: number;
  };
  quality: {
    /** Pseudo-count of the shrunk mean value toward the global mean. */
    shrinkage: number;
    /** q_i above this refunds watch time; below it costs extra. */
    threshold: number;
  };
  /** Document lengths (minutes): seeded log-normal around `mean`, since the data carry none. */
  length: { mean: number; spread: number; seed: number };
  budget: {
    /** Session time budget (minutes) and its uniform jitter (± jitter / 2). */
    initial: number;
    jitter: number;
    /** Minutes a slate without a click costs. */
    noClickPenalty: number;
    /** Refund factor: budget −= w · (1 − refund · (q_i − threshold)). */
    refund: number;
  };
  choice: {
    /** Utility of not clicking (set by calibration). */
    noClickUtility: number;
    /** Weight of the interest score s_ui = x_u · θ_i. */
    interestWeight: number;
    /** Weight of the item's appeal (standardised log popularity). */
    appealWeight: number;
    /** Position bias: utility −positionDecay · ln(1 + position). */
    positionDecay: number;
  };
  /** Watched fraction σ(bias + interestSlope · s_ui) of the document's length. */
  watch: { bias: number; interestSlope: number };
}

export const SIM_ML_LS_V1: SimConfig = {
  preset: 'sim-ml-ls-v1',
  version: 1,
  slateSize: 10,
  horizon: 30,
  initialHistory: 10,
  choice: { noClickUtility: 0, ratingWeight: 3, genreWeight: 1, satiationWeight: 0.8, attractWeight: 0.5, positionDecay: 0.5 },
  satiation: { gain: 1, decay: 0.85, ratingPenalty: 0.3, fromHistory: 0.15 },
  drift: { rho: 0.95, sigma: 0.03, pull: 0.1 },
  patience: { initial: 1, jitter: 0.5, noClickCost: 0.35, ratingGain: 0.25, stepCost: 0.03, leaveProb: 0.01 },
  rating: { noise: 0.7 },
  purchase: { bias: -2, slope: 1.2 },
  reward: { click: 1, purchase: 1, rating: 0.5, lambda: 0.1, alpha: 0.1 },
  coldThreshold: 3,
  exposureValue: 'static',
  calibration: { targetFirstStepCtr: 0.35 },
  gamma: 0.95,
};

/**
 * v2: v1 with an exposure value that falls as an item's exposure exceeds its fair share (see
 * `exposureValue`). Everything else, calibration included, is v1's; v1 stays as it was so that its
 * published figures reproduce.
 */
export const SIM_ML_LS_V2: SimConfig = { ...structuredClone(SIM_ML_LS_V1), preset: 'sim-ml-ls-v2', version: 2, exposureValue: 'fair-share' };

/**
 * The interest-evolution family's default preset (RecSim-style; Ie et al. 2019). Data-agnostic: it
 * calibrates topics, quality, appeal, interests and the no-click utility on whatever data it is
 * built from. The shared fields are v1's so that the two families' returns use the same K, horizon,
 * γ, λ and α.
 */
export const SIM_INTEREST_V1: SimConfig = {
  ...structuredClone(SIM_ML_LS_V1),
  preset: 'sim-interest-v1',
  version: 1,
  interest: {
    topics: { source: 'auto', count: 20, iterations: 60 },
    interest: { scale: 1, noise: 0.1, step: 0.3, qualityTilt: 0.5 },
    quality: { shrinkage: 5, threshold: 0 },
    length: { mean: 4, spread: 0.3, seed: 17 },
    budget: { initial: 15, jitter: 6, noClickPenalty: 1, refund: 0.9 },
    choice: { noClickUtility: 0, interestWeight: 3, appealWeight: 0.7, positionDecay: 0.5 },
    watch: { bias: 0.5, interestSlope: 2 },
  },
};

/** A deep copy of `base` with `patch` applied (one level deep per section). */
export function withOverrides(base: SimConfig, patch: Partial<{ [K in keyof SimConfig]: Partial<SimConfig[K]> }>): SimConfig {
  const out = structuredClone(base) as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) {
    if (v !== null && typeof v === 'object') out[k] = { ...(out[k] as object), ...v };
    else if (v !== undefined) out[k] = v;
  }
  return out as unknown as SimConfig;
}
