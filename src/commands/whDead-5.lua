--[[
  Given-up webhook requests (`viber-bulk webhooks --failed`), oldest first, up to ARGV[2] of them:
    resend   due again now, tries forgotten (a fresh retry period)
    discard  gone for good, with their events and the held count
  An event is counted by the `{"id":"` that opens it: inside a text a quote is escaped.

  KEYS[1] outbox config hash, KEYS[2] due zset, KEYS[3] requests hash, KEYS[4] tries hash,
  KEYS[5] dead zset
  ARGV[1] 'resend' or 'discard', ARGV[2] most requests, ARGV[3] now (ms)
  Returns how many events moved.
]]
local ids = redis.call('ZRANGE', KEYS[5], 0, tonumber(ARGV[2]) - 1)
local events = 0
for _, id in ipairs(ids) do
  local body = redis.call('HGET', KEYS[3], id) or ''
  local _, n = string.gsub(body, '{"id":"', '')
  events = events + n
  redis.call('ZREM', KEYS[5], id)
  redis.call('HDEL', KEYS[4], id)
  if ARGV[1] == 'resend' then
    redis.call('ZADD', KEYS[2], ARGV[3], id)
  else
    redis.call('HDEL', KEYS[3], id)
  end
end
if events > 0 then
  redis.call('HINCRBY', KEYS[1], 'failed', -events)
  if ARGV[1] == 'discard' then redis.call('HINCRBY', KEYS[1], 'held', -events) end
end
return events
