--[[
  A worker parks messages of a paused campaign: their state becomes p, but only while the campaign
  is still paused, checked in the same step — a resume (control cleared, then p -> w) either sees
  them parked and takes them back, or they are not parked at all.

  Parked ids go back to the front of the campaign's backlog, where the dispatcher leaves them
  until a resume (before the worker moves their jobs to the delayed set: see backlog-2.lua).

  KEYS[1] state hash, KEYS[2] counts hash (as above), KEYS[3] control hash,
  KEYS[4] backlog list, KEYS[5] ready set
  ARGV[1] campaign
  ARGV[2..] ids

  Returns the campaign's control now ('' when none); the states changed only if it is 'paused'.
]]
--- @include "includes/counts"
local control = redis.call('HGET', KEYS[3], ARGV[1]) or ''
if control ~= 'paused' then
  return control
end
for i = 2, #ARGV do
  local id = ARGV[i]
  local old = redis.call('HGET', KEYS[1], id)
  if old and old ~= 'p' and string.sub(old, 1, 1) ~= 'x' then
    redis.call('HSET', KEYS[1], id, 'p')
    bump(old, -1)
    bump('p', 1)
  end
end
for i = #ARGV, 2, -1 do redis.call('LPUSH', KEYS[4], ARGV[i]) end
redis.call('SADD', KEYS[5], ARGV[1])
flush(KEYS[2])
return control
