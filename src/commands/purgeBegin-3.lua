--[[
  Marks a campaign as being purged, in the same step as the check that it may be: from then on
  every enqueue of it is refused (enqueue-10.lua), so no message can be enqueued into a campaign
  whose keys are going away — neither lost with them nor left behind as a duplicate that cannot
  be sent. A purge that stopped halfway finds its mark and carries on.

  The campaign goes with its SMS fallbacks (src/fallback.ts): its companion's counts are checked
  with its own, summed, and both are marked.

  KEYS[1] counts hash (the campaign's, with its tracking count), KEYS[2] its companion's counts
  hash, KEYS[3] purging hash (campaign -> when its purge began, s)
  ARGV[1] campaign, ARGV[2] its companion, ARGV[3] '1' to purge what is not finished (the caller
  cancelled it first)

  Returns {} when marked (or already marked), else the counts that forbid it, as
  { field, n, field, n, ... }: 'active' always forbids (messages on the wire), and without force
  'waiting', 'delayed', 'paused' and 'tracking' do.
]]
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then
  redis.call('HSETNX', KEYS[3], ARGV[2], redis.call('HGET', KEYS[3], ARGV[1]))
  return {}
end
local fields = { 'active', 'waiting', 'delayed', 'paused', 'tracking' }
local sum = {}
for k = 1, 2 do
  for i, n in ipairs(redis.call('HMGET', KEYS[k], unpack(fields))) do
    sum[i] = (sum[i] or 0) + (tonumber(n) or 0)
  end
end
local out = {}
for i, f in ipairs(fields) do
  if sum[i] > 0 and (i == 1 or ARGV[3] ~= '1') then
    out[#out + 1] = f
    out[#out + 1] = sum[i]
  end
end
if #out > 0 then return out end
local t = redis.call('TIME')
redis.call('HSET', KEYS[3], ARGV[1], t[1], ARGV[2], t[1])
return {}
