# Get current game state every second
while true; do
  curl -s http://localhost:8080/api/metrics | jq '.[] | select(.EventType == "player_update")'
  sleep 1
done
