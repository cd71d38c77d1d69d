"""Puts the collection on sys.path as ansible_collections.patchops.containers."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, 'build')
_link = os.path.join(BUILD, 'ansible_collections', 'patchops', 'containers')
if not os.path.exists(_link):
    os.makedirs(os.path.dirname(_link), exist_ok=True)
    os.symlink(ROOT, _link)
if BUILD not in sys.path:
    sys.path.insert(0, BUILD)
