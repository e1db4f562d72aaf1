--[[
  Takes up to ARGV[3] due webhook events for one request: each is leased (due again at now +
  lease) so that no other sender takes it meanwhile, and comes back by itself if this one dies.
  Takes nothing while the endpoint is marked gone.

  KEYS[1] outbox config hash, KEYS[2] due zset, KEYS[3] events hash, KEYS[4] tries hash
  ARGV[1] now (ms), ARGV[2] lease (ms), ARGV[3] most events
  Returns triples: event id, its JSON, its tries ('' or `tries:firstFailure:lastError`).
]]
if redis.call('HEXISTS', KEYS[1], 'gone') == 1 then return {} end
local now = tonumber(ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local body = redis.call('HGET', KEYS[3], id)
  if body then
    redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), id)
    out[#out + 1] = id
    out[#out + 1] = body
    out[#out + 1] = redis.call('HGET', KEYS[4], id) or ''
  else
    redis.call('ZREM', KEYS[2], id)
  end
end
return out
