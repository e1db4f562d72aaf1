--[[
  KEYS[1] the TAT key (ms, Redis clock), KEYS[2] the pause key (until when a 212 holds us, ms)
  ARGV[1] 'acquire', 'pause' or 'paused'
  acquire: ARGV[2] window (ms), ARGV[3] limit (0: none), ARGV[4] messages in the batch
           returns the ms to wait before sending (0: now); with a limit the slot is reserved
  pause:   ARGV[2] ms; returns 0
  paused:  returns the ms left of a 212 pause (0: none); reserves nothing
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
if ARGV[1] == 'paused' then
  local untilMs = tonumber(redis.call('GET', KEYS[2]) or '0')
  return math.max(0, math.ceil(untilMs - now))
end
if ARGV[1] == 'pause' then
  local untilMs = math.max(tat, now + tonumber(ARGV[2]))
  redis.call('SET', KEYS[1], string.format('%.3f', untilMs), 'PX', math.ceil(untilMs - now) + 1000)
  local pauseUntil = now + tonumber(ARGV[2])
  redis.call('SET', KEYS[2], string.format('%.3f', pauseUntil), 'PX', math.ceil(pauseUntil - now) + 1000)
  return 0
end
local window, limit, n = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if limit > 0 then
  local nextTat = tat + n * window / limit
  redis.call('SET', KEYS[1], string.format('%.3f', nextTat), 'PX', math.ceil(nextTat - now) + window)
end
return math.ceil(tat - now)
