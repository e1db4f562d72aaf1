--[[
  Gives claimed ids back before their lease ends (the request failed or was throttled): each is
  due again at ARGV[1], if its info is still the one the worker claimed.
  KEYS[1] track zset, KEYS[2] info hash
  ARGV[1] due (ms), ARGV[2..] pairs: id, info as claimed
]]
for i = 2, #ARGV, 2 do
  if redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[i + 1] then
    redis.call('ZADD', KEYS[1], ARGV[1], ARGV[i])
  end
end
return 0
