/**
 * Eigen-decomposition of a symmetric d x d matrix (row-major) by cyclic Jacobi rotations.
 * Jacobi is slow for large d but accurate for small eigenvalues, which matters here:
 * PyOD's PCA divides by the explained variance ratio, so the smallest components weigh most.
 * Returns eigenvalues sorted descending and the matching unit eigenvectors as rows.
 */
export function symmetricEigen(matrix: Float64Array, d: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    v[i * d + i] = 1;
  }
  let total = 0;
  for (const x of a) {
    total += x * x;
  }
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        off += a[p * d + q]! * a[p * d + q]!;
      }
    }
    // Off-diagonal norm below 1e-18 of the whole: further rotations only move rounding noise.
    if (off <= total * 1e-36) {
      break;
    }
    for (let p = 0; p < d - 1; p++) {
      for (let q = p + 1; q < d; q++) {
        rotate(a, v, d, p, q);
      }
    }
  }
  const order = Array.from({ length: d }, (_, i) => i).sort((i, j) => a[j * d + j]! - a[i * d + i]!);
  const values = new Float64Array(d);
  const vectors = new Float64Array(d * d);
  order.forEach((col, row) => {
    values[row] = a[col * d + col]!;
    for (let k = 0; k < d; k++) {
      vectors[row * d + k] = v[k * d + col]!;
    }
  });
  return { values, vectors };
}

/** One Jacobi rotation zeroing a[p][q] (Numerical Recipes' stable form). */
function rotate(a: Float64Array, v: Float64Array, d: number, p: number, q: number): void {
  const apq = a[p * d + q]!;
  if (apq === 0) {
    return;
  }
  const app = a[p * d + p]!;
  const aqq = a[q * d + q]!;
  const theta = (aqq - app) / (2 * apq);
  const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
  const c = 1 / Math.sqrt(t * t + 1);
  const s = t * c;
  if (!Number.isFinite(t) || t === 0) {
    // apq is negligible next to the diagonal gap: dropping it changes nothing at double precision.
    a[p * d + q] = 0;
    a[q * d + p] = 0;
    return;
  }
  for (let k = 0; k < d; k++) {
    const akp = a[k * d + p]!;
    const akq = a[k * d + q]!;
    a[k * d + p] = c * akp - s * akq;
    a[k * d + q] = s * akp + c * akq;
  }
  for (let k = 0; k < d; k++) {
    const apk = a[p * d + k]!;
    const aqk = a[q * d + k]!;
    a[p * d + k] = c * apk - s * aqk;
    a[q * d + k] = s * apk + c * aqk;
  }
  a[p * d + q] = 0;
  a[q * d + p] = 0;
  for (let k = 0; k < d; k++) {
    const vkp = v[k * d + p]!;
    const vkq = v[k * d + q]!;
    v[k * d + p] = c * vkp - s * vkq;
    v[k * d + q] = s * vkp + c * vkq;
  }
}
