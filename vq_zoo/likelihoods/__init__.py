from vq_zoo.likelihoods.likelihood import Likelihood
from vq_zoo.likelihoods.likelihood import get
from vq_zoo.likelihoods.mean_squared_error import MeanSquaredError
from vq_zoo.likelihoods.categorical import Categorical
from vq_zoo.likelihoods.logistic_mixture import LogisticMixture
