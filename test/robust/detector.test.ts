import { describe, expect, it } from 'vitest';
import { injectAttack, pickTargets } from '../../src/robust/attacks.js';
import { applyDetector, detectionQuality, FEATURE_NAMES, profileFeatures, trainDetector } from '../../src/robust/detector.js';
import { ratedWorld } from './world.js';

describe('shilling detector', () => {
  // Denser and more skewed than the attack tests' world, like real rating data: genuine users
  // concentrate on popular items, so catalogue-wide filler stands out.
  const world = ratedWorld(3, 500, 2000, 50000, 1.1);
  const targets = pickTargets(world, 3, 5);

  it('features: a segment profile has zero filler variance, a top-vs-filler gap and high degSim', () => {
    const atk = injectAttack(world, { type: 'segment', targets, size: 0.05, filler: 0.02, seed: 7 });
    const f = profileFeatures(atk.dataset);
    expect(Object.keys(f.values).sort()).toEqual([...FEATURE_NAMES].sort());
    const fake = atk.fake[0]!;
    expect(f.values.fillerVar[fake]).toBe(0);
    expect(f.values.fmtd[fake]).toBe(4); // 5 on targets and segment, 1 on filler
    let genuineMax = 0;
    for (let u = 0; u < atk.genuineUsers; u++) genuineMax = Math.max(genuineMax, f.values.degSim[u]!);
    expect(f.values.degSim[fake]).toBeGreaterThan(genuineMax);
  });

  it('finds most injected average-attack profiles (precision and recall ≥ 0.75), trained only on other attacks', () => {
    // Trained on validation attacks (seed 11) injected into the clean data; evaluated on an
    // attack with another seed and targets it never saw.
    const model = trainDetector(world, { seed: 11 });
    const atk = injectAttack(world, { type: 'average', targets, size: 0.05, filler: 0.02, seed: 7 });
    const det = applyDetector(atk.dataset, model);
    const q = detectionQuality(det.flagged, atk.fake);
    expect(q.precision).toBeGreaterThanOrEqual(0.75);
    expect(q.recall).toBeGreaterThanOrEqual(0.75);
    // The suspects list is the flagged users, most suspicious first.
    expect(det.suspects.length).toBe(q.flagged);
    for (let j = 1; j < det.suspects.length; j++) expect(det.scores[det.suspects[j - 1]!]!).toBeGreaterThanOrEqual(det.scores[det.suspects[j]!]!);
    // On the clean data it flags few genuine users.
    const clean = applyDetector(world, model);
    expect(clean.suspects.length).toBeLessThan(0.05 * world.nUsers);
  }, 60_000);
});
