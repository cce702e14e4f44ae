// OBS Browser Source
const updateInterval = 100; // 10Hz updates

async function updateStats() {
  const response = await fetch('http://localhost:8080/api/metrics');
  const metrics = await response.json();

  const playerData = metrics.find(m => m.EventType === 'player_update');
  if (playerData) {
    document.getElementById('health').textContent =
      `${playerData.Data.health_current}/${playerData.Data.health_max}`;
    document.getElementById('mp').textContent =
      `${playerData.Data.mp_current}/${playerData.Data.mp_max}`;
  }
}

setInterval(updateStats, updateInterval);
