--[[
  Puts ids back at the front of their campaign's backlog (a worker holds them back: the campaign is
  before its start or outside its window). Called before the jobs go back to the delayed set, so
  that a worker dying in between leaves a job that comes back as stalled, never one that nobody
  will release.

  KEYS[1] ready set, KEYS[2] the campaign's backlog list
  ARGV[1] campaign, ARGV[2..] ids in queue order
]]
for i = #ARGV, 2, -1 do redis.call('LPUSH', KEYS[2], ARGV[i]) end
redis.call('SADD', KEYS[1], ARGV[1])
return #ARGV - 1
