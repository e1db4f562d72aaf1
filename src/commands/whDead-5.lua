--[[
  Given-up webhook events (`viber-bulk webhooks --failed`), oldest first, up to ARGV[2] of them:
    resend   due again now, tries forgotten (a fresh 24 h of retries)
    discard  gone for good, and the held count with them

  KEYS[1] outbox config hash, KEYS[2] due zset, KEYS[3] events hash, KEYS[4] tries hash,
  KEYS[5] dead zset
  ARGV[1] 'resend' or 'discard', ARGV[2] most events, ARGV[3] now (ms)
  Returns how many moved.
]]
local ids = redis.call('ZRANGE', KEYS[5], 0, tonumber(ARGV[2]) - 1)
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[5], id)
  redis.call('HDEL', KEYS[4], id)
  if ARGV[1] == 'resend' then
    redis.call('ZADD', KEYS[2], ARGV[3], id)
  else
    redis.call('HDEL', KEYS[3], id)
  end
end
if ARGV[1] == 'discard' and #ids > 0 then redis.call('HINCRBY', KEYS[1], 'held', -#ids) end
return #ids
