from vq_zoo.likelihoods.likelihood import Likelihood
from vq_zoo.likelihoods.likelihood import get
from vq_zoo.likelihoods.mean_squared_error import MeanSquaredError
from vq_zoo.likelihoods.categorical import Categorical
from vq_zoo.likelihoods.logistic_mixture import LogisticMixture
from vq_zoo.likelihoods.mu_law import MuLaw, mu_law_decode, mu_law_encode
