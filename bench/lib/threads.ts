// A server's CPU by thread, from /proc: each thread's time on a CPU
// (/proc/<pid>/task/<tid>/schedstat, ns, user and system together), grouped by
// what the thread is (its name, /proc/<pid>/task/<tid>/comm). Node names its
// threads: the event loop is the thread whose id is the process's, V8's
// platform workers (GC helpers, concurrent compilers) are "V8Worker" and its
// "DelayedTaskScheduler", libuv's pool (fs writes, DNS, crypto) "libuv-worker";
// the rest (jemalloc's background thread, the inspector's signal thread) is
// "other". A Go server's threads all carry its binary's name and any of them
// runs goroutines: there the process's first thread is "main" and the others
// are "other". A thread that exits between two readings loses its time.
import { readdir, readFile } from 'node:fs/promises';

export const THREAD_GROUPS = ['main', 'V8 workers', 'libuv pool', 'other'] as const;
export type ThreadGroup = (typeof THREAD_GROUPS)[number];
export type ThreadCpu = Record<ThreadGroup, number>;

export function threadGroup(pid: number, tid: number, comm: string): ThreadGroup {
  if (tid === pid) return 'main';
  if (comm === 'V8Worker' || comm.startsWith('DelayedTaskSch')) return 'V8 workers';
  if (comm === 'libuv-worker') return 'libuv pool';
  return 'other';
}

/** CPU ns so far of every thread of `pids`, summed by group. */
export async function threadCpuNs(pids: readonly number[]): Promise<ThreadCpu> {
  const out: ThreadCpu = { main: 0, 'V8 workers': 0, 'libuv pool': 0, other: 0 };
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = await readdir(`/proc/${pid}/task`);
    } catch {
      continue; // Exited.
    }
    for (const tid of tids) {
      try {
        const [comm, schedstat] = await Promise.all([readFile(`/proc/${pid}/task/${tid}/comm`, 'utf8'), readFile(`/proc/${pid}/task/${tid}/schedstat`, 'utf8')]);
        out[threadGroup(pid, Number(tid), comm.trim())] += Number(schedstat.split(' ')[0]);
      } catch {
        // Exited between readdir and read.
      }
    }
  }
  return out;
}

/** µs per review by group between two readings. */
export function perReview(before: ThreadCpu, after: ThreadCpu, reviews: number): ThreadCpu {
  const n = Math.max(1, reviews);
  const us = (g: ThreadGroup) => (after[g] - before[g]) / 1e3 / n;
  return { main: us('main'), 'V8 workers': us('V8 workers'), 'libuv pool': us('libuv pool'), other: us('other') };
}
