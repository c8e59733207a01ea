/** A metric_name,metric_timestamp,metric_value CSV: `count` 5-minute points per metric, a wavy series. */
export function metricsCsv(metrics: Record<string, number>): string {
  const lines = ['metric_name,metric_timestamp,metric_value'];
  for (const [name, count] of Object.entries(metrics)) {
    for (let i = 0; i < count; i++) {
      const ts = new Date(Date.UTC(2024, 0, 1) + i * 300_000).toISOString().slice(0, 19).replace('T', ' ');
      lines.push(`${name},${ts},${(100 + 10 * Math.sin(i / 5) + (i % 7)).toFixed(3)}`);
    }
  }
  return lines.join('\n');
}
