// k6, open model: mixed agent traffic at RATE requests per second in all — browse 80 % (a pool of
// popular searches, so mostly cache hits with misses as entries expire), re-check 15 % and
// book 5 % of offers those searches returned. Thresholds on p95/p99 per kind and on errors.
//   k6 run -e BASE=http://127.0.0.1:37080 -e RATE=40 -e DURATION=10m mixed.js
// Sold out, price changed (409) and expired (410) answers to re-checks and bookings are business
// outcomes, counted apart, not errors.
import http from 'k6/http';
import { check } from 'k6';
import { Rate, Counter } from 'k6/metrics';

const base = __ENV.BASE || 'http://127.0.0.1:37080';
const rate = parseInt(__ENV.RATE || '40');
const duration = __ENV.DURATION || '60s';
const dests = ['LIS', 'BCN', 'PAR', 'ROM', 'BER', 'AMS', 'LON', 'NYC'];
const errors = new Rate('errors');
const business = new Counter('business_outcomes');

function arrivals(share) {
  const r = Math.max(1, Math.round(rate * share));
  const s = {
    executor: 'constant-arrival-rate', rate: r, timeUnit: '1s', duration: duration,
    preAllocatedVUs: Math.max(5, r), maxVUs: Math.max(20, r * 10),
  };
  // FIXED_VUS: a fixed client pool (all VUs allocated up front, none added later), so the
  // number of agent connections is constant from the start (the soak's memory verdict needs it).
  if (__ENV.FIXED_VUS) {
    const n = Math.max(2, Math.round(Number(__ENV.FIXED_VUS) * share));
    s.preAllocatedVUs = n;
    s.maxVUs = n;
  }
  return s;
}

export const options = {
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
  setupTimeout: '120s',
  scenarios: {
    browse: Object.assign(arrivals(0.80), { exec: 'browse' }),
    recheck: Object.assign(arrivals(0.15), { exec: 'recheck' }),
    book: Object.assign(arrivals(0.05), { exec: 'book' }),
  },
  thresholds: {
    'http_req_duration{kind:browse}': ['p(95)<300', 'p(99)<500'],
    'http_req_duration{kind:recheck}': ['p(95)<100', 'p(99)<250'],
    'http_req_duration{kind:book}': ['p(95)<200', 'p(99)<500'],
    errors: ['rate<0.01'],
  },
};

function day(offset) {
  return new Date(Date.now() + offset * 86400000).toISOString().slice(0, 10);
}

// The popular searches: 8 destinations × 5 hotel trios × 2 stays = 80 bodies.
const pool = [];
for (const d of dests) {
  for (let t = 0; t < 5; t++) {
    const ids = [1, 2, 3].map((i) => 'ARG-' + d + '-' + String(t * 3 + i).padStart(4, '0'));
    for (const off of [21, 45]) {
      pool.push(JSON.stringify({
        checkin: day(off), checkout: day(off + 2), hotels: ids,
        occupancy: [{ adults: 2 }], currency: 'EUR',
      }));
    }
  }
}

const agent = { 'Content-Type': 'application/json', Authorization: 'Bearer demo-key' };
const business_ok = http.expectedStatuses({ min: 200, max: 299 }, 409, 410);

export function setup() {
  const offers = [];
  for (const body of pool) {
    const res = http.post(base + '/v1/search', body, { headers: agent, tags: { kind: 'setup' } });
    if (res.status !== 200) continue;
    for (const h of res.json('hotels')) {
      for (const r of h.rooms) {
        for (const o of r.offers) offers.push(o.offer_id);
      }
    }
  }
  if (offers.length === 0) throw new Error('no offers from the setup searches');
  return { offers: offers };
}

function pick(list) {
  return list[Math.floor(Math.random() * list.length)];
}

export function browse() {
  const res = http.post(base + '/v1/search', pick(pool), { headers: agent, tags: { kind: 'browse' } });
  errors.add(!check(res, { 'browse 200': (r) => r.status === 200 }));
}

export function recheck(data) {
  const res = http.post(base + '/v1/availability', JSON.stringify({ offer_id: pick(data.offers) }), {
    headers: agent, tags: { kind: 'recheck' }, responseCallback: business_ok,
  });
  if (res.status === 409 || res.status === 410) business.add(1, { kind: 'recheck' });
  errors.add(!check(res, { 'recheck answered': (r) => r.status === 200 || r.status === 409 || r.status === 410 }));
}

export function book(data) {
  const ref = 'LT-' + Math.random().toString(36).slice(2, 12).toUpperCase();
  const body = JSON.stringify({
    offer_id: pick(data.offers), guests: [{ first_name: 'Load', last_name: 'Test' }], client_reference: ref,
  });
  const res = http.post(base + '/v1/bookings', body, {
    headers: Object.assign({ 'Idempotency-Key': ref }, agent), tags: { kind: 'book' },
    responseCallback: business_ok,
  });
  if (res.status === 409 || res.status === 410) business.add(1, { kind: 'book' });
  errors.add(!check(res, { 'book answered': (r) => (r.status >= 200 && r.status < 300) || r.status === 409 || r.status === 410 }));
}

export function handleSummary(data) {
  const out = { stdout: '' };
  if (__ENV.SUMMARY) out[__ENV.SUMMARY] = JSON.stringify(data);
  return out;
}
