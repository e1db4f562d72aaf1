--[[
  Records one status answer: for each message, only if its stored info is still the one the
  worker read when it claimed it (otherwise another worker took it over after a lost lease, and
  counting it again would count a transition twice):
  - the message's finished record (vb:done) gets its delivery (the record ends with
    ,"delivery":{…} — replaced, never re-encoded, so ids and texts stay byte for byte as the
    producer wrote them),
  - the campaign's counts change by the deltas,
  - tracking goes on (new info, new due time) or ends (info and zset member removed).
  KEYS[1] track zset, KEYS[2] info hash, KEYS[3] finished records hash
  ARGV[1] key prefix of the queue (bull:<queue>:)
  ARGV[2..] groups of 7: id, old info, new info ('' = done), due, campaign, record JSON,
            deltas ('field=by;field=by' or '')
  Returns the number of messages recorded.
]]
local base = ARGV[1]
local recorded = 0
for i = 2, #ARGV, 7 do
  local id, old, new, due, campaign, record, deltas =
    ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]
  if redis.call('HGET', KEYS[2], id) == old then
    recorded = recorded + 1
    if new == '' then
      redis.call('HDEL', KEYS[2], id)
      redis.call('ZREM', KEYS[1], id)
    else
      redis.call('HSET', KEYS[2], id, new)
      redis.call('ZADD', KEYS[1], due, id)
    end
    -- Into its finished record (written when it was accepted, in the same step that started
    -- its tracking).
    local data = redis.call('HGET', KEYS[3], id)
    if data then
      local cut = string.find(data, ',"delivery":', 1, true)
      local head = cut and string.sub(data, 1, cut - 1) or string.sub(data, 1, -2)
      redis.call('HSET', KEYS[3], id, head .. ',"delivery":' .. record .. '}')
    end
    if deltas ~= '' then
      local counts = base .. 'vb:c:' .. campaign .. ':counts'
      for field, by in string.gmatch(deltas, '([^=;]+)=([^;]+)') do
        redis.call('HINCRBY', counts, field, tonumber(by))
      end
    end
  end
end
return recorded
