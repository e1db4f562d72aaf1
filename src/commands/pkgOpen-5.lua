--[[
  Read-only: what a package holds, for the worker that took its job. Its campaign, whether that
  campaign may send now (heldLetter: a worker asks before it waits for a rate slot, so that
  messages of a paused, cancelled, expired or not-yet-due campaign never take one), and each id
  with its stored record.

  KEYS[1] packages hash, KEYS[2] queued hash (id -> record, until it ends), KEYS[3] control hash,
  KEYS[4] deadlines hash, KEYS[5] gate hash
  ARGV[1] package id
  Returns {} when there is no such package (settled already, given back, purged); else
  { campaign, held letter or '', then per id: id, its record (nil once the message ended) }.
]]
--- @include "includes/heldLetter"
--- @include "includes/nowMs"
local pkg = redis.call('HGET', KEYS[1], ARGV[1])
if not pkg then return {} end
local tab = string.find(pkg, '\t', 1, true)
local c = string.sub(pkg, 1, tab - 1)
local ids = {}
for id in string.gmatch(string.sub(pkg, tab + 1), '[^,]+') do ids[#ids + 1] = id end
local out = { c, heldLetter(KEYS[3], KEYS[4], KEYS[5], c, nowMs()) or '' }
if #ids == 0 then return out end
local records = redis.call('HMGET', KEYS[2], unpack(ids))
for i, id in ipairs(ids) do
  out[#out + 1] = id
  out[#out + 1] = records[i]
end
return out
