"""A two-tower restaurant recommender served by Redis vector search.

All logic lives in this package; it never imports Streamlit. The command line
(`python -m recsys ...`) and the Streamlit app are two faces of the same library.
"""

__version__ = "0.1.0"
