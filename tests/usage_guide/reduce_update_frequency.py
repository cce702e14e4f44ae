# Reduce update frequency
import requests

requests.post('http://localhost:8080/api/configure', json={
    'update_frequency_hz': 5,  # Reduce to 5Hz
    'enable_advanced_metrics': False  # Disable expensive metrics
})
