import requests
from collections import defaultdict
from datetime import datetime

segment_times = defaultdict(float)
scene_start = {}

def analyze_segments():
    while True:
        metrics = requests.get('http://localhost:8080/api/recent?count=100').json()

        for metric in metrics:
            if metric['EventType'] == 'scene_transition':
                scene = metric['Data']['from_scene']
                if scene in scene_start:
                    duration = datetime.now().timestamp() - scene_start[scene]
                    segment_times[scene] += duration
                    print(f"{scene}: {duration:.2f}s (Total: {segment_times[scene]:.2f}s)")

                scene_start[metric['Data']['to_scene']] = datetime.now().timestamp()

analyze_segments()
