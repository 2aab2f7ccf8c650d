// The per-step checker on hand-built node states: each property fails on the state that breaks it.
import { describe, expect, it } from 'vitest';
import type { RaftCore } from '../../src/raft/raft.js';
import type { Entry, NodeId } from '../../src/raft/types.js';
import { SafetyChecker, SafetyViolation, type ObservedNode } from './checker.js';

const encoder = new TextEncoder();

interface FakeState {
  role: 'leader' | 'follower';
  term: number;
  commitIndex: number;
  /** [term, command] per index from 1. */
  entries: Entry[];
  /** The learners of the node's configuration (its voters are n1..n5 but these). */
  learners?: NodeId[];
}

const NODES: readonly NodeId[] = ['n1', 'n2', 'n3', 'n4', 'n5'];

function command(index: number, term: number, text: string): Entry {
  return { type: 'command', index, term, data: encoder.encode(text) } as Entry;
}

/** Just what the checker reads of a core: its status and its log. */
function fakeNode(id: NodeId, state: FakeState, incarnation = 1): ObservedNode {
  const log = {
    get snapshotIndex() {
      return 0;
    },
    get lastIndex() {
      return state.entries.length;
    },
    entryAt: (index: number) => state.entries[index - 1],
    termAt: (index: number) => (index === 0 ? 0 : state.entries[index - 1]?.term),
  };
  const core = {
    id,
    log,
    status: () => ({
      role: state.role,
      term: state.term,
      commitIndex: state.commitIndex,
      snapshotIndex: 0,
      lastIndex: state.entries.length,
      membership: { voters: NODES.filter((node) => !(state.learners ?? []).includes(node)), learners: state.learners ?? [] },
    }),
  };
  return { id, incarnation, core: core as unknown as RaftCore };
}

/** A node as it first appears: a fresh node has committed nothing, so any commit index is above what it had. */
function booted(checker: SafetyChecker, id: NodeId, state: FakeState): ObservedNode {
  checker.afterStep([fakeNode(id, { ...state, commitIndex: 0 })]);
  return fakeNode(id, state);
}

function violationOf(step: () => void): string {
  try {
    step();
  } catch (error) {
    if (error instanceof SafetyViolation) return error.property;
    throw error;
  }
  return 'none';
}

describe('safety checker after every step', () => {
  it('passes a healthy cluster', () => {
    const checker = new SafetyChecker();
    const a: FakeState = { role: 'leader', term: 1, commitIndex: 1, entries: [command(1, 1, 'x')] };
    const b: FakeState = { role: 'follower', term: 1, commitIndex: 1, entries: [command(1, 1, 'x')] };
    expect(violationOf(() => checker.afterStep([booted(checker, 'n1', a), booted(checker, 'n2', b)]))).toBe('none');
    a.entries.push(command(2, 1, 'y'));
    expect(violationOf(() => checker.afterStep([fakeNode('n1', a), fakeNode('n2', b)]))).toBe('none');
    expect(checker.isCommitted('c:x')).toBe(true);
    expect(checker.isCommitted('c:y')).toBe(false);
  });

  it('catches two leaders of one term', () => {
    const checker = new SafetyChecker();
    checker.afterStep([fakeNode('n1', { role: 'leader', term: 2, commitIndex: 0, entries: [] })]);
    const second = fakeNode('n2', { role: 'leader', term: 2, commitIndex: 0, entries: [] });
    expect(violationOf(() => checker.afterStep([second]))).toBe('election-safety');
  });

  it('catches a leader that is no voter of its configuration (a learner never campaigns)', () => {
    const checker = new SafetyChecker();
    const learner = fakeNode('n2', { role: 'leader', term: 2, commitIndex: 0, entries: [], learners: ['n2'] });
    expect(violationOf(() => checker.afterStep([learner]))).toBe('election-safety');
  });

  it('catches two entries at one index and term', () => {
    const checker = new SafetyChecker();
    checker.afterStep([fakeNode('n1', { role: 'follower', term: 1, commitIndex: 0, entries: [command(1, 1, 'x')] })]);
    const other = fakeNode('n2', { role: 'follower', term: 1, commitIndex: 0, entries: [command(1, 1, 'y')] });
    expect(violationOf(() => checker.afterStep([other]))).toBe('log-matching');
  });

  it('catches a leader that rewrites its log', () => {
    const checker = new SafetyChecker();
    const leader: FakeState = { role: 'leader', term: 1, commitIndex: 0, entries: [command(1, 1, 'x'), command(2, 1, 'y')] };
    checker.afterStep([fakeNode('n1', leader)]);
    leader.entries = [command(1, 1, 'x')];
    expect(violationOf(() => checker.afterStep([fakeNode('n1', leader)]))).toBe('leader-append-only');
  });

  it('catches a commit index that goes back, and a recovered one above any the node had', () => {
    const checker = new SafetyChecker();
    const state: FakeState = { role: 'follower', term: 1, commitIndex: 2, entries: [command(1, 1, 'x'), command(2, 1, 'y')] };
    checker.afterStep([booted(checker, 'n1', state)]);
    state.commitIndex = 1;
    expect(violationOf(() => checker.afterStep([fakeNode('n1', state)]))).toBe('commit-monotonic');
    const recovered = new SafetyChecker();
    state.entries.push(command(3, 1, 'z'));
    recovered.afterStep([booted(recovered, 'n1', { ...state, commitIndex: 2 })]);
    expect(violationOf(() => recovered.afterStep([fakeNode('n1', { ...state, commitIndex: 1 }, 2)]))).toBe('none');
    expect(violationOf(() => recovered.afterStep([fakeNode('n1', { ...state, commitIndex: 3 }, 3)]))).toBe('commit-monotonic');
  });

  it('catches two nodes committing different entries at one index', () => {
    const checker = new SafetyChecker();
    checker.afterStep([booted(checker, 'n1', { role: 'follower', term: 1, commitIndex: 1, entries: [command(1, 1, 'x')] })]);
    const other = booted(checker, 'n2', { role: 'follower', term: 2, commitIndex: 1, entries: [command(1, 2, 'y')] });
    expect(violationOf(() => checker.afterStep([other]))).toBe('state-machine-safety');
  });

  it('catches a leader of a later term without a committed entry, but not one of the committing term', () => {
    const checker = new SafetyChecker();
    checker.afterStep([booted(checker, 'n1', { role: 'follower', term: 3, commitIndex: 1, entries: [command(1, 1, 'x')] })]);
    const sameTerm = fakeNode('n2', { role: 'leader', term: 3, commitIndex: 0, entries: [] });
    expect(violationOf(() => checker.afterStep([sameTerm]))).toBe('none');
    const later = fakeNode('n3', { role: 'leader', term: 4, commitIndex: 0, entries: [] });
    expect(violationOf(() => checker.afterStep([later]))).toBe('leader-completeness');
  });
});
