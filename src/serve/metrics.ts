/**
 * Prometheus text exposition (format 0.0.4), written by hand: a request counter and latency
 * histogram per route, plus gauges and counters the caller supplies at scrape time.
 */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

interface RouteStats {
  count: Map<number, number>;
  buckets: Float64Array;
  sum: number;
  n: number;
}

export interface Sample {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  values: { labels?: Record<string, string>; value: number }[];
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labels(l: Record<string, string> | undefined): string {
  if (!l) return '';
  const parts = Object.entries(l).map(([k, v]) => `${k}="${esc(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

export class HttpMetrics {
  private readonly routes = new Map<string, RouteStats>();

  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${route}`;
    let s = this.routes.get(key);
    if (!s) this.routes.set(key, (s = { count: new Map(), buckets: new Float64Array(BUCKETS.length), sum: 0, n: 0 }));
    s.count.set(status, (s.count.get(status) ?? 0) + 1);
    for (let b = 0; b < BUCKETS.length; b++) if (seconds <= BUCKETS[b]!) s.buckets[b]++;
    s.sum += seconds;
    s.n++;
  }

  render(extra: Sample[]): string {
    const out: string[] = [];
    out.push('# HELP chorus_http_requests_total HTTP requests answered, by route and status.');
    out.push('# TYPE chorus_http_requests_total counter');
    for (const [key, s] of this.routes) {
      const [method, route] = key.split(' ') as [string, string];
      for (const [status, n] of s.count) out.push(`chorus_http_requests_total${labels({ method, route, status: String(status) })} ${n}`);
    }
    out.push('# HELP chorus_http_request_duration_seconds Time to answer an HTTP request.');
    out.push('# TYPE chorus_http_request_duration_seconds histogram');
    for (const [key, s] of this.routes) {
      const [method, route] = key.split(' ') as [string, string];
      for (let b = 0; b < BUCKETS.length; b++) {
        out.push(`chorus_http_request_duration_seconds_bucket${labels({ method, route, le: num(BUCKETS[b]!) })} ${s.buckets[b]}`);
      }
      out.push(`chorus_http_request_duration_seconds_bucket${labels({ method, route, le: '+Inf' })} ${s.n}`);
      out.push(`chorus_http_request_duration_seconds_sum${labels({ method, route })} ${num(s.sum)}`);
      out.push(`chorus_http_request_duration_seconds_count${labels({ method, route })} ${s.n}`);
    }
    for (const m of extra) {
      out.push(`# HELP ${m.name} ${m.help}`);
      out.push(`# TYPE ${m.name} ${m.type}`);
      for (const v of m.values) out.push(`${m.name}${labels(v.labels)} ${num(v.value)}`);
    }
    return `${out.join('\n')}\n`;
  }
}
