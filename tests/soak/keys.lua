-- wrk script for tests/soak/soak.sh: every request is a get and a set of one key out of
-- SOAK_KEYS (default 10000), so the keys spread over all memcached servers.
local keys = tonumber(os.getenv("SOAK_KEYS") or "10000")
local value = string.rep("v", 100)
local threads = 0

function setup(thread)
   threads = threads + 1
   thread:set("seed", threads)
end

function init(args)
   math.randomseed(os.time() * 131 + (seed or 0) * 7919)
end

function request()
   local k = math.random(keys)
   return wrk.format("GET", "/mc?op=getset&key=soak" .. k .. "&value=" .. value)
end
