--[[
  Writes a campaign's gate, computed by a worker from the stored timing, only if that timing is
  still what the worker read (a schedule change meanwhile wrote its own gate).
  KEYS[1] timing hash, KEYS[2] gate hash; ARGV[1] campaign, ARGV[2] timing as read, ARGV[3] gate
]]
if (redis.call('HGET', KEYS[1], ARGV[1]) or '') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1
