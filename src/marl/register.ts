/**
 * Registers the team as agent `team` (src/agents registry: `chorus simulate --agent team`, the
 * simulator runner) and recommenders `team-blend` and `team-item` (src/recommenders registry:
 * `chorus evaluate --model team-blend`, `chorus train --model team-blend`). The offline blend was
 * recommender `team` until it was renamed for what it is, the team's offline scorers fused by
 * learned weights with no agent in it; `team` now names only the agent. The lower registries
 * cannot name the team themselves (agents and recommenders never import marl), so whoever wires
 * the layers together calls `registerTeam()` once before it looks names up: the CLI's
 * `createProgram` and the server's agent policy. Importing this module registers nothing.
 */
import { agentNames, registerAgent } from '../agents/registry.js';
import { defineRecommender, listRecommenders, registerRecommender, renameRecommender } from '../recommenders/registry.js';
import type { TeamContext } from './context.js';
import { ITEM_AGENT_DEFAULTS, ItemAgentRecommender, itemAgentSchema } from './item-recommender.js';
import { commaList, TEAM_BLEND_DEFAULTS, TeamBlendRecommender, teamBlendSchema } from './team-blend.js';
import { TeamAgent, TEAM_DEFAULTS, type TeamConfig } from './team.js';

/** Teams created through the registry while a collection is open (the CLI summarises their weights). */
let collecting: TeamAgent[] | null = null;

export function collectTeams(): TeamAgent[] {
  collecting = [];
  return collecting;
}

export function stopCollectingTeams(): void {
  collecting = null;
}

/** Add `team`, `team-blend` and `team-item` to the registries; a second call does nothing. */
export function registerTeam(): void {
  if (!agentNames().includes('team')) {
    registerAgent('team', {
      description: 'multi-agent team: user (relevance), item (fair exposure), content (attractiveness) agents fused into one slate',
      defaults: { seed: 1, ...TEAM_DEFAULTS },
      learns: true,
      create: (ctx, c) => {
        // `-p members=user,mf` on the command line arrives as one string.
        const raw = c as Record<string, unknown>;
        const team = new TeamAgent(ctx as TeamContext, { ...raw, members: commaList(raw.members) } as unknown as TeamConfig);
        collecting?.push(team);
        return team;
      },
    });
  }
  const have = new Set(listRecommenders().map((r) => r.name));
  if (!have.has('team-item')) {
    registerRecommender(
      defineRecommender({
        name: 'team-item',
        description: "The team's item agent offline: favours rarely interacted-with and new items (fair exposure)",
        defaults: ITEM_AGENT_DEFAULTS,
        schema: itemAgentSchema,
        make: (c) => new ItemAgentRecommender(c),
      }),
    );
  }
  if (!have.has('team-blend')) {
    registerRecommender(
      defineRecommender({
        name: 'team-blend',
        description: "The team's offline scorers blended (no RL): user (ALS), extras (EASE, kNN), content and item scorers fitted on the logs, fusion weights learned on a validation split",
        defaults: TEAM_BLEND_DEFAULTS,
        schema: teamBlendSchema,
        make: (c) => new TeamBlendRecommender(c),
      }),
    );
    renameRecommender(
      'team',
      'team-blend',
      "it fuses the team's offline scorers (ALS, EASE, kNN, content, item) by weights learned on a validation split, with no agent in it; the trained multi-agent team is `chorus simulate --agent team`. Files saved as \"team\" still load",
    );
  }
}
