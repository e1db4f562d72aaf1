--[[
  Takes up to ARGV[3] due webhook events for one request: each is leased (due again at now +
  lease) so that no other sender takes it meanwhile, and comes back by itself if this one dies.
  Takes nothing while the endpoint is marked gone. A handful of commands a call, not a handful
  an event: events are read, and leased, a request at a time.

  KEYS[1] outbox config hash, KEYS[2] due zset, KEYS[3] events hash, KEYS[4] tries hash
  ARGV[1] now (ms), ARGV[2] lease (ms), ARGV[3] most events
  Returns triples: event id, its JSON, its tries ('' or `tries:firstFailure:lastError`).
]]
if redis.call('HEXISTS', KEYS[1], 'gone') == 1 then return {} end
local now = tonumber(ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
if #ids == 0 then return {} end
local bodies = redis.call('HMGET', KEYS[3], unpack(ids))
local tries = redis.call('HMGET', KEYS[4], unpack(ids))
local out, lease, stray = {}, {}, {}
for i, id in ipairs(ids) do
  if bodies[i] then
    lease[#lease + 1] = now + tonumber(ARGV[2])
    lease[#lease + 1] = id
    out[#out + 1] = id
    out[#out + 1] = bodies[i]
    out[#out + 1] = tries[i] or ''
  else
    stray[#stray + 1] = id
  end
end
if #lease > 0 then redis.call('ZADD', KEYS[2], unpack(lease)) end
if #stray > 0 then redis.call('ZREM', KEYS[2], unpack(stray)) end
return out
