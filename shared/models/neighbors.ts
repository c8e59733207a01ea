/**
 * Exact k-nearest-neighbour distances (Euclidean) from query rows to reference rows.
 * A KD-tree serves low dimensions; brute force the rest. Both compute every distance the same way
 * (sum of squared differences in column order, then sqrt), so they return identical values.
 */

const LEAF_SIZE = 16;
/** Above this many features a KD-tree prunes too little to pay for itself (sklearn switches at 15). */
const TREE_MAX_D = 15;
const TREE_MIN_N = 64;

export interface NeighborIndex {
  readonly data: Float64Array;
  readonly n: number;
  readonly d: number;
  /** null: brute force. */
  readonly tree: KdTree | null;
  /** Brute force only: the reference rows column by column (d x n), so the distance loop runs over contiguous memory. */
  readonly columns: Float64Array | null;
}

interface KdTree {
  /** Row ids permuted so that every node covers a contiguous range. */
  order: Int32Array;
  start: Int32Array;
  end: Int32Array;
  /** Split feature, -1 for a leaf; children of node i are left[i] and right[i]. */
  splitDim: Int32Array;
  left: Int32Array;
  right: Int32Array;
  /** Bounding box of node i: lower corner at [2·i·d, 2·i·d + d), upper corner right after. */
  box: Float64Array;
}

export function buildNeighborIndex(
  data: Float64Array,
  n: number,
  d: number,
  strategy: 'auto' | 'tree' | 'brute' = 'auto',
): NeighborIndex {
  const useTree = strategy === 'tree' || (strategy === 'auto' && d <= TREE_MAX_D && n >= TREE_MIN_N);
  return { data, n, d, tree: useTree ? buildTree(data, n, d) : null, columns: useTree ? null : transpose(data, n, d) };
}

function transpose(data: Float64Array, n: number, d: number): Float64Array {
  const columns = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      columns[j * n + i] = data[i * d + j]!;
    }
  }
  return columns;
}

function buildTree(data: Float64Array, n: number, d: number): KdTree {
  const capacity = 2 * Math.ceil(n / LEAF_SIZE) * 2 + 1;
  const tree: KdTree = {
    order: Int32Array.from({ length: n }, (_, i) => i),
    start: new Int32Array(capacity),
    end: new Int32Array(capacity),
    splitDim: new Int32Array(capacity),
    left: new Int32Array(capacity),
    right: new Int32Array(capacity),
    box: new Float64Array(capacity * 2 * d),
  };
  let count = 0;
  const build = (lo: number, hi: number): number => {
    const node = count++;
    tree.start[node] = lo;
    tree.end[node] = hi;
    tree.splitDim[node] = -1;
    const dim = boundNode(data, d, tree, node, lo, hi);
    if (hi - lo <= LEAF_SIZE) {
      return node;
    }
    if (dim < 0) {
      return node; // all rows identical: nothing to split
    }
    const mid = (lo + hi) >> 1;
    selectNth(data, d, tree.order, lo, hi - 1, mid, dim);
    tree.splitDim[node] = dim;
    tree.left[node] = build(lo, mid);
    tree.right[node] = build(mid, hi);
    return node;
  };
  build(0, n);
  return tree;
}

/** Stores the node's bounding box and returns its widest feature (-1 when all rows are identical). */
function boundNode(data: Float64Array, d: number, tree: KdTree, node: number, lo: number, hi: number): number {
  let best = -1;
  let bestSpread = 0;
  const base = 2 * node * d;
  for (let j = 0; j < d; j++) {
    let min = Infinity;
    let max = -Infinity;
    for (let i = lo; i < hi; i++) {
      const v = data[tree.order[i]! * d + j]!;
      if (v < min) {
        min = v;
      }
      if (v > max) {
        max = v;
      }
    }
    tree.box[base + j] = min;
    tree.box[base + d + j] = max;
    if (max - min > bestSpread) {
      bestSpread = max - min;
      best = j;
    }
  }
  return best;
}

/** Squared distance from the query to the node's bounding box: a lower bound for every row inside. */
function boxDistance(tree: KdTree, node: number, d: number, queries: Float64Array, qi: number): number {
  const base = 2 * node * d;
  let sum = 0;
  for (let j = 0; j < d; j++) {
    const q = queries[qi + j]!;
    const below = tree.box[base + j]! - q;
    const above = q - tree.box[base + d + j]!;
    const gap = below > 0 ? below : above > 0 ? above : 0;
    sum += gap * gap;
  }
  return sum;
}

/** Quickselect on `order[lo..hi]` by feature `dim` so that position k holds the k-th smallest. */
function selectNth(data: Float64Array, d: number, order: Int32Array, lo: number, hi: number, k: number, dim: number): void {
  while (hi > lo) {
    const pivot = data[order[(lo + hi) >> 1]! * d + dim]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (data[order[i]! * d + dim]! < pivot) {
        i++;
      }
      while (data[order[j]! * d + dim]! > pivot) {
        j--;
      }
      if (i <= j) {
        const tmp = order[i]!;
        order[i] = order[j]!;
        order[j] = tmp;
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

/** Bounded max-heap of the k smallest squared distances seen so far. */
class KSmallest {
  readonly values: Float64Array;
  size = 0;

  constructor(readonly k: number) {
    this.values = new Float64Array(k);
  }

  /** Current k-th smallest, or Infinity while fewer than k were seen. */
  bound(): number {
    return this.size < this.k ? Infinity : this.values[0]!;
  }

  push(value: number): void {
    const v = this.values;
    if (this.size < this.k) {
      let i = this.size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (v[parent]! >= value) {
          break;
        }
        v[i] = v[parent]!;
        i = parent;
      }
      v[i] = value;
    } else if (value < v[0]!) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= this.k) {
          break;
        }
        const r = l + 1;
        const c = r < this.k && v[r]! > v[l]! ? r : l;
        if (v[c]! <= value) {
          break;
        }
        v[i] = v[c]!;
        i = c;
      }
      v[i] = value;
    }
  }

  /** Empties the heap into `out` as ascending distances (sqrt applied), without allocating. */
  drainSorted(out: Float64Array): void {
    const v = this.values;
    while (this.size > 0) {
      const last = --this.size;
      out[last] = Math.sqrt(v[0]!);
      const value = v[last]!;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= last) {
          break;
        }
        const r = l + 1;
        const c = r < last && v[r]! > v[l]! ? r : l;
        if (v[c]! <= value) {
          break;
        }
        v[i] = v[c]!;
        i = c;
      }
      v[i] = value;
    }
  }
}

/**
 * Squared distance, abandoned as soon as it reaches `bound` (the row could not enter the k nearest then).
 * Completed sums always add the columns in the same order, so tree and brute force agree bit for bit.
 */
function squaredDistanceBelow(a: Float64Array, ai: number, b: Float64Array, bi: number, d: number, bound: number): number {
  let sum = 0;
  for (let j = 0; j < d; j++) {
    const delta = a[ai + j]! - b[bi + j]!;
    sum += delta * delta;
    if (sum >= bound) {
      return bound;
    }
  }
  return sum;
}

/**
 * For each query row, calls `visit(row, distances)` with its k smallest distances, ascending.
 * `distances` is reused between rows.
 */
export function forEachKNearest(
  index: NeighborIndex,
  queries: Float64Array,
  m: number,
  k: number,
  visit: (row: number, distances: Float64Array) => void,
): void {
  if (k > index.n) {
    throw new Error(`need at least ${k} reference rows for ${k} neighbours, got ${index.n}`);
  }
  const { data, d, tree, columns } = index;
  const heap = new KSmallest(k);
  const distances = new Float64Array(k);
  const squared = new Float64Array(tree === null ? index.n : 0);
  const stack = tree === null ? null : { nodes: new Int32Array(tree.left.length + 1), lower: new Float64Array(tree.left.length + 1) };
  // Self-queries (training scores) go in tree order: consecutive queries then walk the same nodes.
  const visitOrder = tree !== null && queries === data ? tree.order : null;
  for (let step = 0; step < m; step++) {
    const q = visitOrder === null ? step : visitOrder[step]!;
    const qi = q * d;
    if (tree === null) {
      bruteForce(columns!, index.n, d, queries, qi, squared, heap);
    } else {
      searchTree(tree, data, d, queries, qi, heap, stack!);
    }
    heap.drainSorted(distances);
    visit(q, distances);
  }
}

/** Squared distances to every reference row, summed column by column (same order as squaredDistanceBelow). */
function bruteForce(
  columns: Float64Array,
  n: number,
  d: number,
  queries: Float64Array,
  qi: number,
  squared: Float64Array,
  heap: KSmallest,
): void {
  squared.fill(0);
  for (let j = 0; j < d; j++) {
    const q = queries[qi + j]!;
    const offset = j * n;
    for (let i = 0; i < n; i++) {
      const delta = q - columns[offset + i]!;
      squared[i]! += delta * delta;
    }
  }
  for (let i = 0; i < n; i++) {
    if (squared[i]! < heap.bound()) {
      heap.push(squared[i]!);
    }
  }
}

interface SearchStack {
  nodes: Int32Array;
  /** Lower bound on the squared distance to any row under the node (its box distance). */
  lower: Float64Array;
}

/** Depth-first, nearer child first; a node is skipped once its box is no closer than the k-th distance so far. */
function searchTree(
  tree: KdTree,
  data: Float64Array,
  d: number,
  queries: Float64Array,
  qi: number,
  heap: KSmallest,
  stack: SearchStack,
): void {
  const { nodes, lower } = stack;
  nodes[0] = 0;
  lower[0] = 0;
  let top = 1;
  while (top > 0) {
    top--;
    if (lower[top]! >= heap.bound()) {
      continue;
    }
    const node = nodes[top]!;
    if (tree.splitDim[node]! < 0) {
      for (let i = tree.start[node]!; i < tree.end[node]!; i++) {
        const bound = heap.bound();
        const squared = squaredDistanceBelow(queries, qi, data, tree.order[i]! * d, d, bound);
        if (squared < bound) {
          heap.push(squared);
        }
      }
      continue;
    }
    const left = tree.left[node]!;
    const right = tree.right[node]!;
    const leftLower = boxDistance(tree, left, d, queries, qi);
    const rightLower = boxDistance(tree, right, d, queries, qi);
    // Push the farther child first so the nearer one is searched first and tightens the bound.
    const leftFirst = leftLower <= rightLower;
    nodes[top] = leftFirst ? right : left;
    lower[top++] = leftFirst ? rightLower : leftLower;
    nodes[top] = leftFirst ? left : right;
    lower[top++] = leftFirst ? leftLower : rightLower;
  }
}
