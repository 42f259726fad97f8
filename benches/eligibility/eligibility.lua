-- wrk script: POST eligibility(code, scenario) for a random code of CODES_FILE, with a bearer
-- token from TOKEN. Used by benches/eligibility/run.sh.
local codes = {}
local token = os.getenv("TOKEN")
local scenario = os.getenv("SCENARIO") or "XINYI_ZU_DEPOSIT_WAIVER"

function init(args)
  for line in io.lines(os.getenv("CODES_FILE")) do
    codes[#codes + 1] = line
  end
  math.randomseed(os.time() + (tonumber(tostring(codes):match("0x(%x+)"), 16) or 0))
end

local query = 'query($c:String!,$s:String!){eligibility(code:$c,scenario:$s){eligible grade reasons{code met}}}'

function request()
  local code = codes[math.random(#codes)]
  local body = '{"query":"' .. query .. '","variables":{"c":"' .. code .. '","s":"' .. scenario .. '"}}'
  return wrk.format("POST", "/graphql", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }, body)
end

function done(summary, latency, requests)
  io.write(string.format("wrk: %.0f req/s, p50 %.2f ms, p99 %.2f ms, max %.2f ms, %d requests, %d non-2xx, %d socket errors\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
