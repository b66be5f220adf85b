// k6 at a fixed arrival rate (open model): one request shape, RATE requests per second for DURATION.
//   k6 run -e URL=http://127.0.0.1:18080/v1/search -e METHOD=POST -e BODY_FILE=body.json \
//          -e RATE=200 -e DURATION=10s loadtest/common/rate.js
// Optional: AUTH (bearer key, default demo-key; "none" for none), HEADERS ("Name: value|Name:
// value", as loadtest/common/request.lua takes them for wrk), SUMMARY (write k6's summary JSON there).
import http from 'k6/http';

const rate = parseInt(__ENV.RATE || '100');
const body = __ENV.BODY_FILE ? open(__ENV.BODY_FILE) : null;
const method = __ENV.METHOD || 'GET';
const extra = {};
for (const pair of (__ENV.HEADERS || '').split('|')) {
  const i = pair.indexOf(':');
  if (i > 0) extra[pair.slice(0, i).trim()] = pair.slice(i + 1).trim();
}
const auth = __ENV.AUTH || 'demo-key';

export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
  scenarios: {
    fixed: {
      executor: 'constant-arrival-rate',
      rate: rate,
      timeUnit: '1s',
      duration: __ENV.DURATION || '10s',
      preAllocatedVUs: Math.max(10, Math.ceil(rate / 10)),
      maxVUs: Math.max(50, rate),
    },
  },
};

export default function () {
  const headers = Object.assign({ 'Content-Type': 'application/json' }, extra);
  if (auth !== 'none') headers['Authorization'] = 'Bearer ' + auth;
  http.request(method, __ENV.URL, body, { headers: headers });
}

export function handleSummary(data) {
  const out = {};
  if (__ENV.SUMMARY) out[__ENV.SUMMARY] = JSON.stringify(data);
  return out;
}
