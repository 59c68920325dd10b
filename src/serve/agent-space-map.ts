/**
 * The bridge between a served snapshot's item and user indices and those of a saved agent's own
 * space (src/agents/agent-file.ts), matched by external id. A warm agent acts and learns in its own
 * space; the server speaks in the snapshot's. Items of the snapshot that the agent never saw have no
 * agent index (the agent cannot pick them; the recommender's fill can), and items of the agent that
 * the snapshot lacks are masked (they cannot be shown).
 */
import type { Slate } from '../env/types.js';
import type { Recommender } from '../recommenders/types.js';

export class AgentSpaceMap {
  /** Snapshot item → agent item (−1: unknown to the agent), and back. */
  readonly toAgentItem: Int32Array;
  readonly toModelItem: Int32Array;
  /** Snapshot user → agent user (−1), and back. */
  readonly toAgentUser: Int32Array;
  readonly toModelUser: Int32Array;
  /** How many snapshot items the agent knows. */
  readonly shared: number;
  private readonly maskBuf: Uint8Array;
  private readonly modelScores: Float32Array;

  constructor(model: { itemIds: readonly string[]; userIds: readonly string[] }, agent: { itemIds: readonly string[]; userIds: readonly string[] }) {
    const [toAgentItem, toModelItem, shared] = matchIds(model.itemIds, agent.itemIds);
    const [toAgentUser, toModelUser] = matchIds(model.userIds, agent.userIds);
    this.toAgentItem = toAgentItem;
    this.toModelItem = toModelItem;
    this.toAgentUser = toAgentUser;
    this.toModelUser = toModelUser;
    this.shared = shared;
    this.maskBuf = new Uint8Array(agent.itemIds.length);
    this.modelScores = new Float32Array(model.itemIds.length);
  }

  agentUser(modelUser: number): number {
    return modelUser >= 0 && modelUser < this.toAgentUser.length ? this.toAgentUser[modelUser]! : -1;
  }

  /** Snapshot item indices in the agent's space, order kept, unknown ones dropped. */
  agentItems(modelItems: ArrayLike<number>): Int32Array {
    const out: number[] = [];
    for (let k = 0; k < modelItems.length; k++) {
      const m = modelItems[k]!;
      const a = m >= 0 && m < this.toAgentItem.length ? this.toAgentItem[m]! : -1;
      if (a >= 0) out.push(a);
    }
    return Int32Array.from(out);
  }

  /** The request's mask in the agent's space: blocked there, or not in the snapshot at all. Reused buffer. */
  agentMask(modelMask: Uint8Array): Uint8Array {
    const out = this.maskBuf;
    for (let a = 0; a < out.length; a++) {
      const m = this.toModelItem[a]!;
      out[a] = m < 0 ? 1 : modelMask[m]!;
    }
    return out;
  }

  /** The agent's slate with snapshot item indices (−1 where the snapshot lacks the item; the caller skips those). */
  modelSlate(slate: Slate): Slate {
    return { ...slate, items: Int32Array.from(slate.items, (a) => (a >= 0 && a < this.toModelItem.length ? this.toModelItem[a]! : -1)) };
  }

  /**
   * The served recommender's scores of every agent item for an agent user (and their history, for
   * users the snapshot does not know). Agent items the snapshot lacks get the lowest score seen, so
   * that a scorer's scale is not stretched by a sentinel.
   */
  scoreInAgentSpace(rec: Recommender, agentUser: number, agentHistory: Int32Array | null, out: Float32Array): void {
    const modelUser = agentUser >= 0 && agentUser < this.toModelUser.length ? this.toModelUser[agentUser]! : -1;
    const tmp = this.modelScores;
    if (modelUser >= 0) rec.scoreAll(modelUser, tmp);
    else {
      const items: number[] = [];
      if (agentHistory) for (const a of agentHistory) if (this.toModelItem[a]! >= 0) items.push(this.toModelItem[a]!);
      rec.scoreAll({ items: Int32Array.from(items) }, tmp);
    }
    let lo = Infinity;
    for (let a = 0; a < out.length; a++) {
      const m = this.toModelItem[a]!;
      if (m >= 0 && tmp[m]! < lo) lo = tmp[m]!;
    }
    if (!Number.isFinite(lo)) lo = 0;
    for (let a = 0; a < out.length; a++) {
      const m = this.toModelItem[a]!;
      out[a] = m >= 0 ? tmp[m]! : lo;
    }
  }
}

/** Index maps between two id lists (each −1 where the other lacks the id), and how many ids they share. */
function matchIds(mine: readonly string[], theirs: readonly string[]): [Int32Array, Int32Array, number] {
  const theirIndex = new Map<string, number>();
  theirs.forEach((id, i) => theirIndex.set(id, i));
  const fwd = new Int32Array(mine.length).fill(-1);
  const back = new Int32Array(theirs.length).fill(-1);
  let shared = 0;
  mine.forEach((id, i) => {
    const j = theirIndex.get(id);
    if (j !== undefined) {
      fwd[i] = j;
      back[j] = i;
      shared++;
    }
  });
  return [fwd, back, shared];
}
