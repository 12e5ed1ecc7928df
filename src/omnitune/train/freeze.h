// train/freeze: which parameters train. The seed's two ways, both supported:
//  - model.json tower switches (v0): vision_encoder -> visual.{patch_embed,blocks,merger_list,pos_embed};
//    vision_projector -> visual.merger and, as the seed's substring match does, visual.merger_list;
//    audio_encoder -> audio_tower; text_decoder -> model (embeddings, layers, norm) and lm_head.
//  - module-name patterns (v1, train/module_pattern.h): every parameter under a matched module is frozen.
//    A pattern that matches no module is an error.
#pragma once

#include <set>
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "omnitune/train/model_config.h"

namespace omnitune {

// Names of the parameters of `model` that the config freezes.
std::set<std::string> frozen_parameters(const torch::nn::Module& model, const ModelConfig& config);

// Names of the parameters under the modules `patterns` match, or under `prefixes` (module names). Error
// naming `where` for a pattern that matches no module (with the closest module name).
std::set<std::string> parameters_under(const torch::nn::Module& model, const std::vector<ModulePattern>& patterns,
                                       const std::string& where, std::vector<std::string> prefixes = {});

}  // namespace omnitune
