/**
 * Exact k-nearest-neighbour distances (Euclidean), computed block by block.
 *
 * Query and reference rows are split by KD-trees. For each leaf of query rows, the reference tree is
 * walked nearer node first; a node is skipped once the gap between its bounding box and the query leaf's
 * is no less than the k-th distance found so far for every row of the leaf, and a small enough node is
 * compared with each query row whose own gap to it is below that row's k-th distance. Every distance is
 * the sum of squared differences in column order, then sqrt, and pruning only skips rows that could not
 * enter the k nearest, so the result is the brute-force result bit for bit, whatever the trees.
 */

/** Rows per leaf: query rows walk the tree a leaf at a time, so a small leaf keeps their common bound tight. */
const LEAF_SIZE = 16;
/**
 * Reference rows are compared a whole node at a time from this size down: walking further and testing
 * each query row against smaller boxes costs more than the distances it saves (measured, d = 6).
 */
const BLOCK_SIZE = 64;

/** Rows split into KD-tree leaves, stored leaf after leaf so that every node covers a contiguous range. */
export interface Partition {
  readonly n: number;
  readonly d: number;
  /** Nodes in use; node 0 is the root. */
  readonly nodes: number;
  /** The rows in tree order, row-major n x d. */
  readonly rows: Float64Array;
  /** Original row of each position in `rows`. */
  readonly order: Int32Array;
  /** Node i covers positions [start[i], end[i]); children left[i] and right[i], both -1 for a leaf. */
  readonly start: Int32Array;
  readonly end: Int32Array;
  readonly left: Int32Array;
  readonly right: Int32Array;
  /** Bounding box of node i: lower corner at [2·i·d, 2·i·d + d), upper corner right after. */
  readonly box: Float64Array;
}

export function partition(data: Float64Array, n: number, d: number): Partition {
  const capacity = 4 * Math.ceil(n / LEAF_SIZE) + 1;
  // Rows are moved as the tree is built, so every node reads contiguous memory.
  const rows = data.slice(0, n * d);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    order[i] = i;
  }
  const start = new Int32Array(capacity);
  const end = new Int32Array(capacity);
  const left = new Int32Array(capacity).fill(-1);
  const right = new Int32Array(capacity).fill(-1);
  const box = new Float64Array(capacity * 2 * d);
  let nodes = 0;
  const build = (lo: number, hi: number): number => {
    const node = nodes++;
    start[node] = lo;
    end[node] = hi;
    const dim = boundNode(rows, d, box, node, lo, hi);
    // A leaf when small enough, or when all its rows are identical (nothing to split on).
    if (hi - lo <= LEAF_SIZE || dim < 0) {
      return node;
    }
    const mid = (lo + hi) >> 1;
    selectNth(rows, d, order, lo, hi - 1, mid, dim);
    left[node] = build(lo, mid);
    right[node] = build(mid, hi);
    return node;
  };
  build(0, n);
  return { n, d, nodes, rows, order, start, end, left, right, box };
}

/** Stores the bounding box of rows [lo, hi) as the node's and returns its widest feature (-1 when all rows are identical). */
function boundNode(rows: Float64Array, d: number, box: Float64Array, node: number, lo: number, hi: number): number {
  let best = -1;
  let bestSpread = 0;
  const base = 2 * node * d;
  for (let j = 0; j < d; j++) {
    let min = Infinity;
    let max = -Infinity;
    for (let i = lo * d + j; i < hi * d; i += d) {
      const v = rows[i]!;
      min = v < min ? v : min;
      max = v > max ? v : max;
    }
    box[base + j] = min;
    box[base + d + j] = max;
    if (max - min > bestSpread) {
      bestSpread = max - min;
      best = j;
    }
  }
  return best;
}

/** Quickselect of rows [lo, hi] by feature `dim` so that row k holds the k-th smallest; `order` follows the rows. */
function selectNth(rows: Float64Array, d: number, order: Int32Array, lo: number, hi: number, k: number, dim: number): void {
  while (hi > lo) {
    const pivot = rows[((lo + hi) >> 1) * d + dim]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (rows[i * d + dim]! < pivot) {
        i++;
      }
      while (rows[j * d + dim]! > pivot) {
        j--;
      }
      if (i <= j) {
        swapRows(rows, d, order, i, j);
        i++;
        j--;
      }
    }
    if (k <= j) {
      hi = j;
    } else if (k >= i) {
      lo = i;
    } else {
      return;
    }
  }
}

function swapRows(rows: Float64Array, d: number, order: Int32Array, a: number, b: number): void {
  for (let j = 0; j < d; j++) {
    const tmp = rows[a * d + j]!;
    rows[a * d + j] = rows[b * d + j]!;
    rows[b * d + j] = tmp;
  }
  const tmp = order[a]!;
  order[a] = order[b]!;
  order[b] = tmp;
}

/**
 * The k smallest distances from each row of `P` to the *other* rows of `P` (sklearn's kneighbors(X=None)),
 * as rows of k ascending distances in the original row order.
 */
export function kNearestOthers(P: Partition, k: number): Float64Array {
  if (k >= P.n) {
    throw new Error(`need more than ${k} rows for ${k} neighbours, got ${P.n}`);
  }
  return search(P, P, k, true);
}

/**
 * The k smallest distances from each of the m query rows to the n reference rows (row-major, d features),
 * as rows of k ascending distances in query order.
 */
export function kNearest(reference: Float64Array, n: number, queries: Float64Array, m: number, d: number, k: number): Float64Array {
  if (k > n) {
    throw new Error(`need at least ${k} reference rows for ${k} neighbours, got ${n}`);
  }
  // A block's worth of queries (scoring the newest rows): building trees costs more than comparing them all.
  if (m <= BLOCK_SIZE) {
    const nearest: Nearest = new Float64Array(m * k).fill(Infinity);
    for (let p = 0; p < m; p++) {
      compareRow(queries, p, reference, 0, n, d, k, nearest);
    }
    return nearest.map(Math.sqrt);
  }
  return search(partition(reference, n, d), partition(queries, m, d), k, false);
}

/**
 * Per query row, the k smallest squared distances so far, ascending, at [row·k, row·k + k) (row in tree
 * order); Infinity while fewer than k were seen.
 */
type Nearest = Float64Array;

function search(R: Partition, Q: Partition, k: number, self: boolean): Float64Array {
  const nearest: Nearest = new Float64Array(Q.n * k).fill(Infinity);
  const stack = new Int32Array(R.nodes + 1);
  const gaps = new Float64Array(R.nodes + 1);
  for (let node = 0; node < Q.nodes; node++) {
    if (Q.left[node]! < 0) {
      searchLeaf(R, Q, node, k, nearest, self, stack, gaps);
    }
  }
  const out = new Float64Array(Q.n * k);
  for (let p = 0; p < Q.n; p++) {
    const o = Q.order[p]! * k;
    for (let c = 0; c < k; c++) {
      out[o + c] = Math.sqrt(nearest[p * k + c]!);
    }
  }
  return out;
}

/**
 * Walks R for the query rows of leaf `q` of Q, nearer node first, comparing them with every block that is
 * not ruled out.
 */
function searchLeaf(
  R: Partition,
  Q: Partition,
  q: number,
  k: number,
  nearest: Nearest,
  self: boolean,
  stack: Int32Array,
  gaps: Float64Array,
): void {
  const q0 = Q.start[q]!;
  const q1 = Q.end[q]!;
  let bound = Infinity;
  stack[0] = 0;
  gaps[0] = boxGap(Q, q, R, 0);
  let top = 1;
  while (top > 0) {
    top--;
    if (gaps[top]! >= bound) {
      continue;
    }
    const node = stack[top]!;
    if (R.end[node]! - R.start[node]! <= BLOCK_SIZE || R.left[node]! < 0) {
      compareBlock(Q.rows, q0, q1, R, node, k, nearest, self);
      bound = largestKth(nearest, k, q0, q1);
      continue;
    }
    const left = R.left[node]!;
    const right = R.right[node]!;
    const leftGap = boxGap(Q, q, R, left);
    const rightGap = boxGap(Q, q, R, right);
    // Push the farther child first so the nearer one is searched first and tightens the bound.
    const leftFirst = leftGap <= rightGap;
    stack[top] = leftFirst ? right : left;
    gaps[top++] = leftFirst ? rightGap : leftGap;
    stack[top] = leftFirst ? left : right;
    gaps[top++] = leftFirst ? leftGap : rightGap;
  }
}

/** The largest k-th squared distance among query positions [p0, p1): no farther row can matter to any of them. */
function largestKth(nearest: Nearest, k: number, p0: number, p1: number): number {
  let bound = 0;
  for (let p = p0; p < p1; p++) {
    const kth = nearest[p * k + k - 1]!;
    if (kth > bound) {
      bound = kth;
    }
  }
  return bound;
}

/**
 * Squared gap between the boxes of node `a` of A and node `b` of B: a lower bound on every squared distance
 * between their rows (also after rounding, which is monotonic).
 */
function boxGap(A: Partition, a: number, B: Partition, b: number): number {
  const d = A.d;
  const ab = 2 * a * d;
  const bb = 2 * b * d;
  let sum = 0;
  for (let j = 0; j < d; j++) {
    const below = B.box[bb + j]! - A.box[ab + d + j]!;
    const above = A.box[ab + j]! - B.box[bb + d + j]!;
    const gap = below > 0 ? below : above > 0 ? above : 0;
    sum += gap * gap;
  }
  return sum;
}

/** Squared gap between the row at `xi` and the box of node `b` of B (a lower bound, as boxGap). */
function rowGap(x: Float64Array, xi: number, B: Partition, b: number): number {
  const d = B.d;
  const bb = 2 * b * d;
  let sum = 0;
  for (let j = 0; j < d; j++) {
    const v = x[xi + j]!;
    const below = B.box[bb + j]! - v;
    const above = v - B.box[bb + d + j]!;
    const gap = below > 0 ? below : above > 0 ? above : 0;
    sum += gap * gap;
  }
  return sum;
}

/**
 * Query positions [q0, q1) against the rows of node `node` of R, skipping the query rows its box is too far
 * from. Self-search (Q is R) leaves out each row's own distance.
 */
function compareBlock(queries: Float64Array, q0: number, q1: number, R: Partition, node: number, k: number, nearest: Nearest, self: boolean): void {
  const r0 = R.start[node]!;
  const r1 = R.end[node]!;
  for (let p = q0; p < q1; p++) {
    if (rowGap(queries, p * R.d, R, node) >= nearest[p * k + k - 1]!) {
      continue;
    }
    if (self && p >= r0 && p < r1) {
      compareRow(queries, p, R.rows, r0, p, R.d, k, nearest);
      compareRow(queries, p, R.rows, p + 1, r1, R.d, k, nearest);
    } else {
      compareRow(queries, p, R.rows, r0, r1, R.d, k, nearest);
    }
  }
}

/**
 * Query position p against reference positions [r0, r1). Each squared distance adds the columns in order,
 * as on every path; d = 6 (the default 5 lags) is spelled out, about twice as fast as the loop.
 */
function compareRow(queries: Float64Array, p: number, reference: Float64Array, r0: number, r1: number, d: number, k: number, nearest: Nearest): void {
  const base = p * k;
  let worst = nearest[base + k - 1]!;
  const qi = p * d;
  if (d === 6) {
    const q0 = queries[qi]!;
    const q1 = queries[qi + 1]!;
    const q2 = queries[qi + 2]!;
    const q3 = queries[qi + 3]!;
    const q4 = queries[qi + 4]!;
    const q5 = queries[qi + 5]!;
    for (let ri = r0 * 6; ri < r1 * 6; ri += 6) {
      const d0 = q0 - reference[ri]!;
      const d1 = q1 - reference[ri + 1]!;
      const d2 = q2 - reference[ri + 2]!;
      const d3 = q3 - reference[ri + 3]!;
      const d4 = q4 - reference[ri + 4]!;
      const d5 = q5 - reference[ri + 5]!;
      const squared = d0 * d0 + d1 * d1 + d2 * d2 + d3 * d3 + d4 * d4 + d5 * d5;
      if (squared < worst) {
        worst = insert(nearest, base, k, squared);
      }
    }
    return;
  }
  for (let ri = r0 * d; ri < r1 * d; ri += d) {
    let squared = 0;
    for (let j = 0; j < d; j++) {
      const delta = queries[qi + j]! - reference[ri + j]!;
      squared += delta * delta;
    }
    if (squared < worst) {
      worst = insert(nearest, base, k, squared);
    }
  }
}

/** Inserts into the ascending run [base, base + k), dropping its largest value; returns the new largest. */
function insert(nearest: Nearest, base: number, k: number, value: number): number {
  let i = base + k - 1;
  while (i > base && nearest[i - 1]! > value) {
    nearest[i] = nearest[i - 1]!;
    i--;
  }
  nearest[i] = value;
  return nearest[base + k - 1]!;
}
