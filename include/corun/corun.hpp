// The one header an application includes.
#pragma once

#include "corun/configured_infer_model.hpp"
#include "corun/expected.hpp"
#include "corun/format.hpp"
#include "corun/infer_model.hpp"
#include "corun/status.hpp"
#include "corun/vdevice.hpp"
