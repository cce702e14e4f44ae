"""The three-split route the timer tests play: a new save starts it, the menu resets it."""

ROUTE = """
name = "Test route"
game_time = true
[start]
new_game = true
[reset]
menu = true
[[splits]]
name = "Moss Mother"
boss = "Moss Mother"
[[splits]]
name = "Bone Bottom"
enter = "Bonetown"
[[splits]]
name = "Bell Beast"
boss = "Bell Beast"
"""
