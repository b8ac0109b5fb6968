"""Streamlit entry point: navigation and shared cached resources, nothing else."""

import streamlit as st

st.set_page_config(page_title="SF restaurant recommender", page_icon="🍽️", layout="wide")
st.title("San Francisco restaurant recommender")
st.info("The app is being built: run `python -m recsys prepare` to set up Redis, data and model.")
