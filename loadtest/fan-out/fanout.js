// k6, open model: cold searches (random hotel trio, random stay 10..340 days ahead) at a fixed
// rate, so nearly every request misses the cache and fans out to all five simulated suppliers.
//   k6 run -e BASE=http://127.0.0.1:37080 -e RATE=10 -e DURATION=30s -e P99_MS=205 fanout.js
// P99_MS sets the p99 threshold (the slowest answering supplier + 5 ms); SUMMARY writes the
// summary JSON there.
import http from 'k6/http';
import { check } from 'k6';

const base = __ENV.BASE || 'http://127.0.0.1:37080';
const rate = parseInt(__ENV.RATE || '10');
const dests = ['LIS', 'BCN', 'PAR', 'ROM', 'BER', 'AMS', 'LON', 'NYC'];

export const options = {
  discardResponseBodies: false,
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
  scenarios: {
    fanout: {
      executor: 'constant-arrival-rate',
      rate: rate,
      timeUnit: '1s',
      duration: __ENV.DURATION || '30s',
      preAllocatedVUs: Math.max(10, rate),
      maxVUs: Math.max(50, rate * 5),
    },
  },
  thresholds: {
    http_req_duration: ['p(99)<' + (__ENV.P99_MS || '205')],
    http_req_failed: ['rate<0.01'],
    complete: ['rate>' + (__ENV.MIN_COMPLETE || '0.99')],
  },
};

import { Rate, Trend } from 'k6/metrics';
const complete = new Rate('complete');
// The search's time beyond its slowest answering leg (as the edge timed the leg): the edge's own
// share of the latency — merging, rendering and queueing behind other searches' work.
const overLeg = new Trend('over_slowest_leg', true);

function day(offset) {
  return new Date(Date.now() + offset * 86400000).toISOString().slice(0, 10);
}

export default function () {
  const d = dests[Math.floor(Math.random() * dests.length)];
  const ids = [];
  for (let i = 0; i < 3; i++) {
    ids.push('ARG-' + d + '-' + String(1 + Math.floor(Math.random() * 38)).padStart(4, '0'));
  }
  const off = 10 + Math.floor(Math.random() * 330);
  const body = JSON.stringify({
    checkin: day(off), checkout: day(off + 2), hotels: ids,
    occupancy: [{ adults: 2 }], currency: 'EUR',
  });
  const res = http.post(base + '/v1/search', body, {
    headers: { 'Content-Type': 'application/json', Authorization: 'Bearer demo-key' },
  });
  check(res, { '200': (r) => r.status === 200 });
  complete.add(res.headers['X-Arigate-Complete'] !== 'false');
  if (res.status === 200) {
    let slowest = 0;
    for (const s of (res.json('suppliers') || [])) {
      if (s.status === 'ok' && s.latency_ms > slowest) slowest = s.latency_ms;
    }
    if (slowest > 0) overLeg.add(res.timings.duration - slowest);
  }
}

export function handleSummary(data) {
  const out = { stdout: '' };
  if (__ENV.SUMMARY) out[__ENV.SUMMARY] = JSON.stringify(data);
  return out;
}
