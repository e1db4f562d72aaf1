--[[
  Marks a campaign as being purged, in the same step as the check that it may be: from then on
  every enqueue of it is refused (enqueue-10.lua), so no message can be enqueued into a campaign
  whose keys are going away — neither lost with them nor left behind as a duplicate that cannot
  be sent. A purge that stopped halfway finds its mark and carries on.

  KEYS[1] counts hash (the campaign's, with its tracking count), KEYS[2] purging hash
  (campaign -> when its purge began, s)
  ARGV[1] campaign, ARGV[2] '1' to purge what is not finished (the caller cancelled it first)

  Returns {} when marked (or already marked), else the counts that forbid it, as
  { field, n, field, n, ... }: 'active' always forbids (messages on the wire), and without force
  'waiting', 'delayed', 'paused' and 'tracking' do.
]]
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return {} end
local fields = { 'waiting', 'delayed', 'paused', 'tracking' }
local v = redis.call('HMGET', KEYS[1], 'active', unpack(fields))
local out = {}
if (tonumber(v[1]) or 0) > 0 then
  out[#out + 1] = 'active'
  out[#out + 1] = tonumber(v[1])
end
if ARGV[2] ~= '1' then
  for i, f in ipairs(fields) do
    local n = tonumber(v[i + 1]) or 0
    if n > 0 then
      out[#out + 1] = f
      out[#out + 1] = n
    end
  end
end
if #out > 0 then return out end
local t = redis.call('TIME')
redis.call('HSET', KEYS[2], ARGV[1], t[1])
return {}
