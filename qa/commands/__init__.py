"""The ``qa`` commands that have grown beyond a few lines, and what the commands share."""
