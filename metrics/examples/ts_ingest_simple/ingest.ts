interface Params {
  services?: string[];
}

/** Latency-like metrics per service: a log-normal around 120 ms. */
export function ingest({ services = ['checkout'] }: Params) {
  const timestamp = new Date();
  timestamp.setUTCSeconds(0, 0);
  return services.map((service) => {
    const gaussian = Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
    return {
      metric_name: `latency_ms_${service}`,
      metric_value: Math.round(120 * Math.exp(0.2 * gaussian) * 100) / 100,
      metric_timestamp: timestamp.toISOString(),
    };
  });
}
