/** Mean and a Student-t 95 % confidence interval over seeds. */
export interface MeanCi {
  mean: number;
  ci95: [number, number];
}

// Two-sided 97.5 % quantiles of Student's t for df = 1..30; beyond that the normal 1.96 is within 2 %.
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

export function t975(df: number): number {
  if (df < 1) return NaN;
  return df <= 30 ? T975[df - 1]! : 1.96;
}

export function meanCi(values: readonly number[]): MeanCi {
  const n = values.length;
  if (n === 0) return { mean: NaN, ci95: [NaN, NaN] };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, ci95: [mean, mean] };
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  const h = (t975(n - 1) * sd) / Math.sqrt(n);
  return { mean, ci95: [mean - h, mean + h] };
}
