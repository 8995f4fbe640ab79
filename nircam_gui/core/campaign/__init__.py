"""Campaigns: one analysis over every detector (and filter) of an instrument, on Dask.

Qt-free. See :mod:`.run` for the flow (plan -> tasks on workers -> instrument tables).
"""

from .cluster import ClusterError, ClusterSpec, open_client
from .inputs import DetectorJob, collect_inputs, find_regions
from .run import CAMPAIGN_FILE, CampaignError, CampaignPlan, CampaignProgress, CampaignResult, plan_gain, \
    plan_skyflat, run_campaign
from .tasks import RECORD_FILE, DetectorOutcome, run_detector

__all__ = ["CAMPAIGN_FILE", "RECORD_FILE", "CampaignError", "CampaignPlan", "CampaignProgress", "CampaignResult",
           "ClusterError", "ClusterSpec", "DetectorJob", "DetectorOutcome", "collect_inputs", "find_regions", "open_client",
           "plan_gain", "plan_skyflat", "run_campaign", "run_detector"]
