--[[
  Moves messages of one campaign to new states and keeps the campaign's counts in step, so that
  counts are read in O(1). Idempotent: a message already in the target state is left alone, so a
  batch re-run after a crash counts once.

  KEYS[1] state hash   id -> state (see state.ts for the encoding)
  KEYS[2] counts hash  waiting, active, delayed, completed, failed, paused, cancelled, code:<n>
  KEYS[3..4] the webhook outbox (includes/outbox.lua): a message cancelled here gets its
           message.cancelled, and the campaign its campaign.finished when nothing is left open
  ARGV[1] 'only-from' prefix: letters of the states a message may leave ('' = any), e.g. 'wd'
  ARGV[2] campaign
  ARGV[3..] pairs: id, new state

  Returns the ids whose state changed.
]]
--- @include "includes/counts"
--- @include "includes/nowMs"
--- @include "includes/outbox"
local from = ARGV[1]
local campaign = ARGV[2]
local outbox = outboxOf(KEYS[3], KEYS[4], nowMs())
local changed = {}
for i = 3, #ARGV, 2 do
  local id, new = ARGV[i], ARGV[i + 1]
  local old = redis.call('HGET', KEYS[1], id)
  -- A message the producer never claimed is not ours to count; 'from' guards operator actions
  -- against a worker that moved the message meanwhile.
  if old and old ~= new and (from == '' or string.find(from, string.sub(old, 1, 1), 1, true)) then
    redis.call('HSET', KEYS[1], id, new)
    bump(old, -1)
    bump(new, 1)
    changed[#changed + 1] = id
    outbox.ended(new, campaign, id, '')
  end
end
if flush(KEYS[2]) then outbox.finished(campaign, KEYS[2]) end
outbox.close()
return changed
