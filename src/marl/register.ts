/**
 * Registers the team as agent `team` (src/agents registry: `chorus simulate --agent team`, the
 * simulator runner) and as recommenders `team` and `team-item` (src/recommenders registry:
 * `chorus evaluate --model team`, `chorus train --model team`). The lower registries cannot name
 * the team themselves (agents and recommenders never import marl), so whoever wires the layers
 * together calls `registerTeam()` once before it looks names up: the CLI's `createProgram` and the
 * server's agent policy. Importing this module registers nothing.
 */
import { agentNames, registerAgent } from '../agents/registry.js';
import { defineRecommender, listRecommenders, registerRecommender } from '../recommenders/registry.js';
import type { TeamContext } from './context.js';
import { ITEM_AGENT_DEFAULTS, ItemAgentRecommender, itemAgentSchema } from './item-recommender.js';
import { commaList, TEAM_RECOMMENDER_DEFAULTS, TeamRecommender, teamRecommenderSchema } from './recommender.js';
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

/** Add `team` and `team-item` to the registries; a second call does nothing. */
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
  if (!have.has('team')) {
    registerRecommender(
      defineRecommender({
        name: 'team',
        description: 'Multi-agent team as a ranker: user agent (ALS), extra agents (EASE, kNN), content and item agents, weights learned on a validation split',
        defaults: TEAM_RECOMMENDER_DEFAULTS,
        schema: teamRecommenderSchema,
        make: (c) => new TeamRecommender(c),
      }),
    );
  }
}
