"""SaddleBench leaderboard: committed results, aggregation, scoring and the static site."""
