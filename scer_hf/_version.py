__version__ = "0.1.0"

#: the release that removes what is deprecated in this one (the next minor): old import paths, SCERCallback.rating
REMOVAL = "0.2.0"
