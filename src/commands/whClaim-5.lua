--[[
  Takes one request's worth of webhook events for a sender, leased: due again at now + lease, so
  that no other sender takes it meanwhile, and back by itself if this one dies. A request that is
  due (waiting for its retry, or its lease ran out) goes first, as it was; else up to ARGV[3] new
  events become a request (an id, their JSON as one array, leased). Nothing while the endpoint is
  marked gone. A handful of commands a request, whatever its size.

  KEYS[1] outbox config hash, KEYS[2] new events list, KEYS[3] due zset (request id -> ms),
  KEYS[4] requests hash (request id -> JSON array of its events), KEYS[5] tries hash
  ARGV[1] now (ms), ARGV[2] lease (ms), ARGV[3] most events in a new request
  Returns {} or { request id, its events (a JSON array), its tries ('' or
  `tries:firstFailure:lastError`) }.
]]
if redis.call('HEXISTS', KEYS[1], 'gone') == 1 then return {} end
local now = tonumber(ARGV[1])
local leased = now + tonumber(ARGV[2])
local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 1)[1]
if due then
  local body = redis.call('HGET', KEYS[4], due)
  if body then
    redis.call('ZADD', KEYS[3], leased, due)
    return { due, body, redis.call('HGET', KEYS[5], due) or '' }
  end
  redis.call('ZREM', KEYS[3], due)
end
local events = redis.call('LRANGE', KEYS[2], 0, tonumber(ARGV[3]) - 1)
if #events == 0 then return {} end
redis.call('LTRIM', KEYS[2], #events, -1)
-- Unique across a Redis that lost its data too (a new epoch): it becomes the webhook-id.
local epoch = redis.call('HGET', KEYS[1], 'epoch') or 'e'
local id = epoch .. '.r' .. redis.call('HINCRBY', KEYS[1], 'rseq', 1)
local body = '[' .. table.concat(events, ',') .. ']'
redis.call('HSET', KEYS[4], id, body)
redis.call('ZADD', KEYS[3], leased, id)
return { id, body, '' }
