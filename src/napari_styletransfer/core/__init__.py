"""Pieces every engine and front end shares; this package imports no engine.

- :mod:`.limits`: sizes and ranges (one place for each number);
- :mod:`.checks`: validating user-given numbers and choices;
- :mod:`.arrays`: users' arrays ⇄ float RGB in [0, 1];
- :mod:`.progress`: the reports that running jobs yield;
- :mod:`.vgg`: VGG19 with the original ImageNet weights;
- :mod:`.color`: colour preservation;
- :mod:`.masks`: style regions, feathering, compositing;
- :mod:`.blend`: blend weights of several styles.
"""
